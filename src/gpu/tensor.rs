//! f32 tensors in storage buffers, and asynchronous readback.

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// An f32 (or u32) array in a storage buffer, or in a range of one (a part of a [`Block`]), with
/// its shape: `[n, c, h, w]` for a batch of images, `[n, features]` for a batch of vectors, `[len]`
/// for the flat buffers of the training code. Bind it to a kernel as itself (`x: &t`, which binds
/// its range), not as `&t.buffer` (the whole buffer).
///
/// ```
/// use wgpu_gan::gpu::{Gpu, Tensor};
/// let gpu = Gpu::new()?;
/// let x = Tensor::new(&gpu, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(x.shape(), &[2, 3]);
/// let x = x.reshape(&[3, 2])?;                  // the same buffer, another shape
/// assert_eq!(x.read(&gpu)?, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// assert!(Tensor::new(&gpu, &[2, 2], &[1.0; 3]).is_err()); // 3 values for a 2 × 2 shape
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Tensor {
    /// The buffer it lies in: its own, or its block's.
    pub buffer: wgpu::Buffer,
    /// Where it starts in `buffer`, in bytes (0 unless it is a part of a block).
    pub offset: u64,
    /// Values it holds: the product of its shape.
    len: usize,
    shape: Vec<usize>,
}

impl crate::gpu::AsArg for Tensor {
    fn arg(&self) -> crate::gpu::Arg<'_> {
        crate::gpu::Arg { buffer: &self.buffer, offset: self.offset, size: self.bytes() }
    }
}

impl Tensor {
    const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
        .union(wgpu::BufferUsages::COPY_SRC)
        .union(wgpu::BufferUsages::COPY_DST);

    /// `len` zeros, a flat tensor named `label` (an empty one still has a one-value buffer).
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// let gpu = Gpu::new()?;
    /// let t = Tensor::zeros(&gpu, "t", 3)?;
    /// assert_eq!((t.shape(), t.read(&gpu)?), (&[3][..], vec![0.0; 3]));
    /// assert_eq!(Tensor::zeros(&gpu, "none", 0)?.bytes(), 4);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn zeros(gpu: &Gpu, label: &str, len: usize) -> Result<Tensor> {
        let bytes = len.max(1).checked_mul(4).map(|b| b as u64).ok_or_else(|| Error::Limit(format!("{label}: {len} values do not fit in memory")))?;
        gpu.check_size(label, bytes)?;
        let buffer = gpu.checked(&format!("the buffer {label} ({bytes} bytes)"), || {
            gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: bytes, usage: Self::USAGE, mapped_at_creation: false })
        })?;
        Ok(Tensor { buffer, offset: 0, len, shape: vec![len] })
    }

    /// A tensor of this shape holding `data` (exactly as many values as the shape has).
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// let gpu = Gpu::new()?;
    /// let t = Tensor::new(&gpu, &[2, 2], &[1.0, 2.0, 3.0, 4.0])?;
    /// assert_eq!((t.shape(), t.read(&gpu)?), (&[2, 2][..], vec![1.0, 2.0, 3.0, 4.0]));
    /// assert!(Tensor::new(&gpu, &[2, 2], &[0.0; 5]).is_err()); // 5 values for 4
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(gpu: &Gpu, shape: &[usize], data: &[f32]) -> Result<Tensor> {
        let len = shape_len(shape)?;
        if data.len() != len {
            return Err(Error::Shape(format!("{} values for a tensor of shape {shape:?} ({len} values)", data.len())));
        }
        Tensor::from_slice(gpu, "tensor", data)?.reshape(shape)
    }

    /// Zeros of this shape.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::zeros_shaped(&gpu, "images", &[2, 1, 2, 2])?;
    /// assert_eq!((t.len(), t.shape()), (8, &[2, 1, 2, 2][..]));
    /// assert_eq!(t.read(&gpu)?, [0.0; 8]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn zeros_shaped(gpu: &Gpu, label: &str, shape: &[usize]) -> Result<Tensor> {
        Tensor::zeros(gpu, label, shape_len(shape)?)?.reshape(shape)
    }

    /// Its shape (its product is [`Tensor::len`]).
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::zeros_shaped(&gpu, "t", &[4, 3])?;
    /// assert_eq!(t.shape(), &[4, 3]);
    /// assert_eq!(t.shape().iter().product::<usize>(), t.len());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The same values under another shape of as many values (PyTorch's `view`).
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::new(&gpu, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// let flat = t.clone().reshape(&[6])?;
    /// assert_eq!((flat.shape(), flat.buffer == t.buffer), (&[6][..], true)); // no copy
    /// assert!(t.reshape(&[4]).is_err()); // 6 values cannot be viewed as 4
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn reshape(self, shape: &[usize]) -> Result<Tensor> {
        if shape_len(shape)? != self.len {
            return Err(Error::Shape(format!("a tensor of shape {:?} ({} values) cannot be viewed as {shape:?}", self.shape, self.len)));
        }
        Ok(Tensor { shape: shape.to_vec(), ..self })
    }

    /// Reads it back with its shape.
    ///
    /// ```
    /// use wgpu_gan::gpu::{CpuTensor, Gpu, Tensor};
    /// let gpu = Gpu::new()?;
    /// let t = Tensor::new(&gpu, &[1, 2], &[0.5, -1.0])?;
    /// assert_eq!(t.to_cpu(&gpu)?, CpuTensor::new(&[1, 2], vec![0.5, -1.0])?);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn to_cpu(&self, gpu: &Gpu) -> Result<CpuTensor> {
        CpuTensor::new(&self.shape, self.read(gpu)?)
    }

    /// Values it holds: the product of its shape.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::zeros_shaped(&gpu, "t", &[2, 3])?;
    /// assert_eq!((t.len(), t.is_empty()), (6, false));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no values.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// use wgpu_gan::gpu::Tensor;
    /// assert!(Tensor::zeros(&gpu, "none", 0)?.is_empty());
    /// assert!(!Tensor::zeros_shaped(&gpu, "one", &[1, 1])?.is_empty());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes it takes (at least 4: an empty tensor has a one-value buffer).
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// use wgpu_gan::gpu::Tensor;
    /// assert_eq!(Tensor::zeros(&gpu, "t", 3)?.bytes(), 12);
    /// assert_eq!(Tensor::zeros(&gpu, "none", 0)?.bytes(), 4); // a one-value buffer
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn bytes(&self) -> u64 {
        (self.len.max(1) * 4) as u64
    }

    /// A flat tensor named `label` holding `data` (f32 values, or u32 ones: counters, indices).
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[7u32, 1])?;
    /// let bits: Vec<u32> = t.read(&gpu)?.iter().map(|v| v.to_bits()).collect();
    /// assert_eq!((t.shape(), bits), (&[2][..], vec![7, 1])); // read as f32: the same bits
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn from_slice<T: bytemuck::Pod>(gpu: &Gpu, label: &str, data: &[T]) -> Result<Tensor> {
        let t = Tensor::zeros(gpu, label, data.len())?;
        if !data.is_empty() {
            gpu.queue.write_buffer(&t.buffer, 0, bytemuck::cast_slice(data));
        }
        Ok(t)
    }

    /// Overwrites the whole tensor (f32 or u32 values).
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::zeros(&gpu, "t", 2)?;
    /// t.write(&gpu, &[3.0f32, 4.0])?;
    /// assert_eq!(t.read(&gpu)?, [3.0, 4.0]);
    /// assert!(t.write(&gpu, &[1.0f32]).is_err()); // 1 value for 2
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn write<T: bytemuck::Pod>(&self, gpu: &Gpu, data: &[T]) -> Result<()> {
        if data.len() != self.len {
            return Err(Error::Shape(format!("writing {} values into a tensor of {}", data.len(), self.len)));
        }
        if !data.is_empty() {
            gpu.queue.write_buffer(&self.buffer, self.offset, bytemuck::cast_slice(data));
        }
        Ok(())
    }

    /// Writes `len` values of `data` (which must have exactly that many) from element `at`.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::zeros(&gpu, "t", 4)?;
    /// t.write_at(&gpu, 1, &[5.0f32, 6.0], 2)?;
    /// assert_eq!(t.read(&gpu)?, [0.0, 5.0, 6.0, 0.0]);
    /// assert!(t.write_at(&gpu, 3, &[1.0f32, 2.0], 2).is_err()); // past the end
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn write_at<T: bytemuck::Pod>(&self, gpu: &Gpu, at: usize, data: &[T], len: usize) -> Result<()> {
        if data.len() != len || at + len > self.len {
            return Err(Error::Shape(format!("writing {} values (expected {len}) at {at} into a tensor of {}", data.len(), self.len)));
        }
        gpu.queue.write_buffer(&self.buffer, self.offset + (at * 4) as u64, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Copies the tensor into a staging buffer and resolves once it is mapped. The copy is its own
    /// submission, queued after whatever was submitted before; nothing waits until the future is
    /// polled (`gpu.device.poll` drives it; [`Tensor::read`] does both).
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::new(&gpu, &[2], &[1.0, 2.0])?;
    /// let pending = t.read_async(&gpu); // the copy is submitted
    /// gpu.wait()?;                      // the device runs it and maps the staging buffer
    /// assert_eq!(pollster::block_on(pending)?, [1.0, 2.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_async(&self, gpu: &Gpu) -> impl std::future::Future<Output = Result<Vec<f32>>> + use<> {
        read_range_async(gpu, &self.buffer, self.offset, self.len)
    }

    /// Blocking readback: submits the copy, waits for the device, returns the values.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Block, Gpu, Tensor};
    /// let gpu = Gpu::new()?;
    /// assert_eq!(Tensor::new(&gpu, &[3], &[1.0, 2.0, 3.0])?.read(&gpu)?, [1.0, 2.0, 3.0]);
    /// let b = Block::from_slices(&gpu, "b", &[vec![1.0], vec![2.0, 3.0]])?;
    /// assert_eq!(b[1].read(&gpu)?, [2.0, 3.0]); // a part reads its own range
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        Ok(pollster::block_on(fetch(gpu, &[self]))?.remove(0))
    }
}

/// Reads several tensors back: every copy is submitted first, then the device is polled (a
/// native device waits there; in a browser the awaits below yield to the page until the buffers
/// are mapped), so that the same code reads back on both without blocking a browser. Readers that
/// have a blocking form and an `_async` one are built on it: the blocking one is the async one run
/// to completion.
///
/// ```
/// use wgpu_gan::gpu::{fetch, Gpu, Tensor};
/// let gpu = Gpu::new()?;
/// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::new(&gpu, &[1], &[3.0])?);
/// let both = pollster::block_on(fetch(&gpu, &[&a, &b]))?;   // in a page: fetch(..).await
/// assert_eq!(both, [vec![1.0, 2.0], vec![3.0]]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub async fn fetch(gpu: &Gpu, tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
    let pending: Vec<_> = tensors.iter().map(|t| t.read_async(gpu)).collect();
    gpu.wait()?;
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        out.push(p.await?);
    }
    // In a browser the errors of the work just read arrive while awaiting: report them now.
    gpu.take_uncaptured()?;
    Ok(out)
}

/// Reads `len` f32 from byte `offset` (a multiple of 4) of a buffer that has COPY_SRC usage.
pub fn read_range_async(gpu: &Gpu, buffer: &wgpu::Buffer, offset: u64, len: usize) -> impl std::future::Future<Output = Result<Vec<f32>>> + use<> {
    let bytes = (len.max(1) * 4) as u64;
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
    encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, bytes);
    gpu.queue.submit([encoder.finish()]);
    let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    async move {
        match rx.receive().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Readback(e.to_string())),
            None => return Err(Error::Readback("map callback dropped".into())),
        }
        let out = {
            let view = staging.get_mapped_range(..).map_err(|e| Error::Readback(format!("{e:?}")))?;
            bytemuck::cast_slice::<u8, f32>(&view)[..len].to_vec()
        };
        staging.unmap();
        Ok(out)
    }
}

/// Bytes between the starts of a block's parts: what every device accepts as a storage binding
/// offset (WebGPU allows an alignment of at most 256), and a multiple of 16 (a vec4, a texel of a
/// texture mirror).
pub const PART_ALIGN: u64 = 256;

/// Several tensors in one buffer (a network's parameters, their gradients, an optimizer's
/// moments), each at an offset that is a multiple of `PART_ALIGN` (256 bytes); the gaps are
/// zeros. Kernels that treat the tensors alike (an optimizer's update, zeroing) run once over
/// [`Block::whole`]; layers bind the parts. It dereferences to the parts, so `block[i]` is the
/// i-th tensor.
///
/// ```
/// use wgpu_gan::gpu::{Block, Gpu};
/// let gpu = Gpu::new()?;
/// let b = Block::from_slices(&gpu, "params", &[vec![1.0; 3], vec![2.0; 5]])?;
/// assert_eq!(b[1].offset, 256);                     // the second part starts 256 bytes in
/// assert_eq!(b.read(&gpu)?, [vec![1.0; 3], vec![2.0; 5]]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Block {
    /// The whole buffer as one tensor: every part and the gaps between them.
    pub whole: Tensor,
    pub parts: Vec<Tensor>,
}

impl Block {
    /// Zeroed tensors of `lens` values, named `label`.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let b = wgpu_gan::gpu::Block::zeros(&gpu, "grads", &[3, 70])?;
    /// assert_eq!((b.len(), b[1].offset), (2, 256)); // 3 values take one 64-value slot
    /// assert_eq!(b.whole.len(), 64 + 128);          // 70 values take two
    /// assert_eq!(b.read(&gpu)?, [vec![0.0; 3], vec![0.0; 70]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn zeros(gpu: &Gpu, label: &str, lens: &[usize]) -> Result<Block> {
        let align = (PART_ALIGN / 4) as usize;
        let mut starts = Vec::with_capacity(lens.len());
        let mut at = 0usize;
        for &l in lens {
            starts.push(at);
            at = at.checked_add(l.max(1).div_ceil(align) * align).ok_or_else(|| Error::Limit(format!("{label}: the tensors do not fit in memory")))?;
        }
        // One buffer holds every tensor: a network too large for one storage binding says so.
        let whole = Tensor::zeros(gpu, label, at).map_err(|e| match e {
            Error::Limit(m) => Error::Limit(format!("{m} ({} tensors of {} values in all, kept in one buffer)", lens.len(), lens.iter().sum::<usize>())),
            e => e,
        })?;
        let parts = starts.iter().zip(lens).map(|(&s, &len)| Tensor { buffer: whole.buffer.clone(), offset: (s * 4) as u64, len, shape: vec![len] }).collect();
        Ok(Block { whole, parts })
    }

    /// Tensors holding `data`, named `label`.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let b = wgpu_gan::gpu::Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// assert_eq!(b.lens(), [2, 1]);
    /// assert_eq!(b[1].read(&gpu)?, [3.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn from_slices(gpu: &Gpu, label: &str, data: &[Vec<f32>]) -> Result<Block> {
        let b = Block::zeros(gpu, label, &data.iter().map(Vec::len).collect::<Vec<_>>())?;
        b.write(gpu, data)?;
        Ok(b)
    }

    /// Zeroed tensors laid out as these.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let p = wgpu_gan::gpu::Block::from_slices(&gpu, "p", &[vec![1.0; 3], vec![2.0; 100]])?;
    /// let g = p.zeros_like(&gpu, "g")?;
    /// assert_eq!((g.lens(), g.bounds()), (p.lens(), p.bounds()));
    /// assert_eq!(g.read(&gpu)?, [vec![0.0; 3], vec![0.0; 100]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn zeros_like(&self, gpu: &Gpu, label: &str) -> Result<Block> {
        Block::zeros(gpu, label, &self.lens())
    }

    /// Each part's length, in values.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let b = wgpu_gan::gpu::Block::zeros(&gpu, "b", &[4, 0, 9])?;
    /// assert_eq!(b.lens(), [4, 0, 9]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn lens(&self) -> Vec<usize> {
        self.parts.iter().map(|t| t.len).collect()
    }

    /// Each part's first value, in values from the buffer's start, then the buffer's length.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let b = wgpu_gan::gpu::Block::zeros(&gpu, "b", &[3, 100])?;
    /// assert_eq!(b.bounds(), [0, 64, 192]); // parts start on 64-value (256-byte) boundaries
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn bounds(&self) -> Vec<u32> {
        self.parts.iter().map(|t| (t.offset / 4) as u32).chain([self.whole.len as u32]).collect()
    }

    /// Every part, from one readback of the buffer.
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let b = wgpu_gan::gpu::Block::from_slices(&gpu, "b", &[vec![1.0], vec![2.0, 3.0]])?;
    /// assert_eq!(b.read(&gpu)?, [vec![1.0], vec![2.0, 3.0]]); // without the gaps
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.read_async(gpu))
    }

    /// [`Block::read`] without blocking (see [`fetch`]).
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let b = wgpu_gan::gpu::Block::from_slices(&gpu, "b", &[vec![1.0], vec![2.0, 3.0]])?;
    /// let parts = pollster::block_on(b.read_async(&gpu))?; // in a page: b.read_async(&gpu).await
    /// assert_eq!(parts, [vec![1.0], vec![2.0, 3.0]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_async(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        let all = fetch(gpu, &[&self.whole]).await?.remove(0);
        Ok(self.parts.iter().map(|t| all[(t.offset / 4) as usize..][..t.len].to_vec()).collect())
    }

    /// Overwrites every part (as many vectors as parts, each of its part's length).
    ///
    /// ```
    /// # let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let b = wgpu_gan::gpu::Block::zeros(&gpu, "b", &[2, 1])?;
    /// b.write(&gpu, &[vec![1.0, 2.0], vec![3.0]])?;
    /// assert_eq!(b.read(&gpu)?, [vec![1.0, 2.0], vec![3.0]]);
    /// assert!(b.write(&gpu, &[vec![1.0, 2.0]]).is_err());         // one vector for two parts
    /// assert!(b.write(&gpu, &[vec![1.0], vec![3.0]]).is_err());   // part 0 has 2 values
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn write(&self, gpu: &Gpu, data: &[Vec<f32>]) -> Result<()> {
        if data.len() != self.parts.len() {
            return Err(Error::Shape(format!("writing {} tensors into a block of {}", data.len(), self.parts.len())));
        }
        let mut all = vec![0f32; self.whole.len];
        for (i, (t, d)) in self.parts.iter().zip(data).enumerate() {
            if d.len() != t.len {
                return Err(Error::Shape(format!("writing {} values into tensor {i} of a block, which has {}", d.len(), t.len)));
            }
            all[(t.offset / 4) as usize..][..t.len].copy_from_slice(d);
        }
        self.whole.write(gpu, &all)
    }
}

impl std::ops::Deref for Block {
    type Target = [Tensor];
    fn deref(&self) -> &[Tensor] {
        &self.parts
    }
}

impl<'a> IntoIterator for &'a Block {
    type Item = &'a Tensor;
    type IntoIter = std::slice::Iter<'a, Tensor>;
    fn into_iter(self) -> Self::IntoIter {
        self.parts.iter()
    }
}

/// The number of values of a shape, or an error when it overflows.
fn shape_len(shape: &[usize]) -> Result<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| Error::Limit(format!("a tensor of shape {shape:?} has more values than memory")))
}

/// Values in main memory with a shape: what a layer's CPU reference takes and gives, and what a
/// [`Tensor`] reads back as.
///
/// ```
/// use wgpu_gan::gpu::CpuTensor;
/// let x = CpuTensor::new(&[2, 2], vec![1.0, 2.0, 3.0, 4.0])?;
/// assert_eq!((x.shape(), x.data()), (&[2, 2][..], &[1.0, 2.0, 3.0, 4.0][..]));
/// assert!(CpuTensor::new(&[3], vec![1.0]).is_err());
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CpuTensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl CpuTensor {
    /// `data` viewed as `shape` (exactly as many values as the shape has).
    ///
    /// ```
    /// use wgpu_gan::gpu::CpuTensor;
    /// let x = CpuTensor::new(&[2, 3], vec![0.0; 6])?;
    /// assert_eq!(x.shape(), &[2, 3]);
    /// assert!(CpuTensor::new(&[2, 3], vec![0.0; 5]).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(shape: &[usize], data: Vec<f32>) -> Result<CpuTensor> {
        let len = shape_len(shape)?;
        if data.len() != len {
            return Err(Error::Shape(format!("{} values for a tensor of shape {shape:?} ({len} values)", data.len())));
        }
        Ok(CpuTensor { shape: shape.to_vec(), data })
    }

    /// Its shape.
    ///
    /// ```
    /// let x = wgpu_gan::gpu::CpuTensor::new(&[1, 2, 2], vec![1.0; 4])?;
    /// assert_eq!(x.shape(), &[1, 2, 2]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Its values, row-major.
    ///
    /// ```
    /// let x = wgpu_gan::gpu::CpuTensor::new(&[2, 2], vec![1.0, 2.0, 3.0, 4.0])?;
    /// assert_eq!(x.data()[2], 3.0); // row 1, column 0
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Its values, without a copy.
    ///
    /// ```
    /// let x = wgpu_gan::gpu::CpuTensor::new(&[3], vec![1.0, 2.0, 3.0])?;
    /// let v: Vec<f32> = x.into_data();
    /// assert_eq!(v, [1.0, 2.0, 3.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// A copy on the device.
    ///
    /// ```
    /// use wgpu_gan::gpu::{CpuTensor, Gpu};
    /// let gpu = Gpu::new()?;
    /// let x = CpuTensor::new(&[2, 1], vec![1.5, -2.0])?;
    /// let t = x.to_gpu(&gpu)?;
    /// assert_eq!(t.to_cpu(&gpu)?, x); // a round trip, shape and all
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn to_gpu(&self, gpu: &Gpu) -> Result<Tensor> {
        Tensor::new(gpu, &self.shape, &self.data)
    }
}

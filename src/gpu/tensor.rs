//! f32 tensors in storage buffers, and asynchronous readback.

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// A flat f32 (or u32) array in a storage buffer; shapes are tracked by the layers that own them.
pub struct Tensor {
    pub buffer: wgpu::Buffer,
    pub len: usize,
}

impl Tensor {
    const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
        .union(wgpu::BufferUsages::COPY_SRC)
        .union(wgpu::BufferUsages::COPY_DST);

    pub fn zeros(gpu: &Gpu, label: &str, len: usize) -> Result<Tensor> {
        let bytes = len.max(1).checked_mul(4).map(|b| b as u64).ok_or_else(|| Error::Limit(format!("{label}: {len} values do not fit in memory")))?;
        gpu.check_size(label, bytes)?;
        let buffer = gpu.checked(&format!("the buffer {label} ({bytes} bytes)"), || {
            gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: bytes, usage: Self::USAGE, mapped_at_creation: false })
        })?;
        Ok(Tensor { buffer, len })
    }

    pub fn from_slice<T: bytemuck::Pod>(gpu: &Gpu, label: &str, data: &[T]) -> Result<Tensor> {
        let t = Tensor::zeros(gpu, label, data.len())?;
        if !data.is_empty() {
            gpu.queue.write_buffer(&t.buffer, 0, bytemuck::cast_slice(data));
        }
        Ok(t)
    }

    /// Overwrites the whole tensor (f32 or u32 values).
    pub fn write<T: bytemuck::Pod>(&self, gpu: &Gpu, data: &[T]) -> Result<()> {
        if data.len() != self.len {
            return Err(Error::Shape(format!("writing {} values into a tensor of {}", data.len(), self.len)));
        }
        gpu.queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Writes `len` values of `data` (which must have exactly that many) from element `at`.
    pub fn write_at<T: bytemuck::Pod>(&self, gpu: &Gpu, at: usize, data: &[T], len: usize) -> Result<()> {
        if data.len() != len || at + len > self.len {
            return Err(Error::Shape(format!("writing {} values (expected {len}) at {at} into a tensor of {}", data.len(), self.len)));
        }
        gpu.queue.write_buffer(&self.buffer, (at * 4) as u64, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Copies the tensor into a staging buffer and resolves once it is mapped. The copy is its own
    /// submission, queued after whatever was submitted before; nothing waits until the future is
    /// polled (`gpu.device.poll` drives it; [`Tensor::read`] does both).
    pub fn read_async(&self, gpu: &Gpu) -> impl std::future::Future<Output = Result<Vec<f32>>> + use<> {
        read_buffer_async(gpu, &self.buffer, self.len)
    }

    /// Blocking readback: submits the copy, waits for the device, returns the values.
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        let fut = self.read_async(gpu);
        gpu.wait()?;
        pollster::block_on(fut)
    }
}

/// Reads the first `len` f32 of any storage buffer that has COPY_SRC usage.
pub fn read_buffer_async(gpu: &Gpu, buffer: &wgpu::Buffer, len: usize) -> impl std::future::Future<Output = Result<Vec<f32>>> + use<> {
    let bytes = (len.max(1) * 4) as u64;
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
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

//! The conv view of a convolution's geometry, shared by the layers that compute convolutions
//! (`conv`, `conv_transpose`) and the matrix-product lowering that runs them (`conv_gemm`), so
//! that neither of those two has to import the other for it.

/// A convolution x (n, cin, h, w) → y (n, cout, oh, ow) with weights (cout, cin, kh, kw), as the
/// CPU references and kernels take it; [`crate::nn::ConvSpec::shape`] makes one for a batch.
///
/// ```
/// use wgpu_gan::nn::{ConvShape, ConvSpec};
/// // DCGAN's 4 × 4, stride 2, padding 1 convolution halves 28 × 28 to 14 × 14.
/// let spec = ConvSpec::new(1, 64, 28, 28, 4, 2, 1);
/// let s: ConvShape = spec.shape(8, false);
/// assert_eq!((s.oh, s.ow), (14, 14));
/// assert_eq!((s.x_len(), s.y_len(), s.w_len()), (8 * 28 * 28, 8 * 64 * 14 * 14, 64 * 16));
/// assert_eq!(s.tap(0, 0, 0), None); // row −1 is padding
/// assert_eq!(s.tap(0, 0, 1), Some(0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    /// [height, width]
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub dil: [usize; 2],
}

impl ConvShape {
    /// Values of the input x: n · cin · h · w.
    ///
    /// ```
    /// # use wgpu_gan::nn::ConvSpec;
    /// let s = ConvSpec::new(3, 8, 6, 5, 3, 1, 1).shape(2, false); // 2 × 3 × 6 × 5 → 2 × 8 × 6 × 5
    /// assert_eq!(s.x_len(), 2 * 3 * 6 * 5);
    /// ```
    pub fn x_len(&self) -> usize {
        self.n * self.cin * self.h * self.w
    }

    /// Values of the output y: n · cout · oh · ow.
    ///
    /// ```
    /// # use wgpu_gan::nn::ConvSpec;
    /// let s = ConvSpec::new(3, 8, 6, 5, 3, 1, 1).shape(2, false); // 2 × 3 × 6 × 5 → 2 × 8 × 6 × 5
    /// assert_eq!(s.y_len(), 2 * 8 * 6 * 5); // padding 1 keeps 6 × 5 for a 3 × 3 kernel
    /// ```
    pub fn y_len(&self) -> usize {
        self.n * self.cout * self.oh * self.ow
    }

    /// Values of the weights: cout · cin · kh · kw.
    ///
    /// ```
    /// # use wgpu_gan::nn::ConvSpec;
    /// let s = ConvSpec::new(3, 8, 6, 5, 3, 1, 1).shape(2, false); // 2 × 3 × 6 × 5 → 2 × 8 × 6 × 5
    /// assert_eq!(s.w_len(), 8 * 3 * 3 * 3);
    /// ```
    pub fn w_len(&self) -> usize {
        self.cout * self.cin * self.kh * self.kw
    }

    /// The input position tap `k` reads for output position `o` along axis `a` (0: rows, 1:
    /// columns), if it lies inside the input: o·stride + k·dilation − pad.
    ///
    /// ```
    /// # use wgpu_gan::nn::ConvSpec;
    /// let s = ConvSpec::new(3, 8, 6, 5, 3, 1, 1).shape(2, false); // 2 × 3 × 6 × 5 → 2 × 8 × 6 × 5
    /// assert_eq!(s.tap(1, 0, 0), None);    // column −1: padding
    /// assert_eq!(s.tap(1, 4, 1), Some(4));
    /// assert_eq!(s.tap(1, 4, 2), None);    // column 5 of a 5-wide input
    /// ```
    pub fn tap(&self, a: usize, o: usize, k: usize) -> Option<usize> {
        let size = [self.h, self.w][a];
        let i = (o * self.stride[a] + k * self.dil[a]) as isize - self.pad[a] as isize;
        (i >= 0 && (i as usize) < size).then_some(i as usize)
    }

    /// The index of x[n, c, y, x] (NCHW, row-major).
    ///
    /// ```
    /// # use wgpu_gan::nn::ConvSpec;
    /// let s = ConvSpec::new(3, 8, 6, 5, 3, 1, 1).shape(2, false); // 2 × 3 × 6 × 5 → 2 × 8 × 6 × 5
    /// assert_eq!(s.xi(0, 0, 0, 1), 1);
    /// assert_eq!(s.xi(1, 2, 5, 4), s.x_len() - 1); // the last value
    /// ```
    pub fn xi(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        ((n * self.cin + c) * self.h + y) * self.w + x
    }

    /// The index of y[n, c, y, x] (NCHW, row-major).
    ///
    /// ```
    /// # use wgpu_gan::nn::ConvSpec;
    /// let s = ConvSpec::new(3, 8, 6, 5, 3, 1, 1).shape(2, false); // 2 × 3 × 6 × 5 → 2 × 8 × 6 × 5
    /// assert_eq!(s.yi(0, 1, 0, 0), 6 * 5);     // one output plane further
    /// assert_eq!(s.yi(1, 7, 5, 4), s.y_len() - 1);
    /// ```
    pub fn yi(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        ((n * self.cout + c) * self.oh + y) * self.ow + x
    }

    /// The index of weight[co, ci, ky, kx] (PyTorch's (cout, cin, kh, kw) layout).
    ///
    /// ```
    /// # use wgpu_gan::nn::ConvSpec;
    /// let s = ConvSpec::new(3, 8, 6, 5, 3, 1, 1).shape(2, false); // 2 × 3 × 6 × 5 → 2 × 8 × 6 × 5
    /// assert_eq!(s.wi(0, 1, 0, 0), 9);          // the next input channel's 3 × 3 taps
    /// assert_eq!(s.wi(7, 2, 2, 2), s.w_len() - 1);
    /// ```
    pub fn wi(&self, co: usize, ci: usize, ky: usize, kx: usize) -> usize {
        ((co * self.cin + ci) * self.kh + ky) * self.kw + kx
    }
}

/// Greatest common divisor (stride phases, tap steps).
pub fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

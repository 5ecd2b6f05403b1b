//! Typed kernel launches: a declaration of a kernel's bindings that disagrees with its WGSL
//! (swapped buffers, a wrong access mode, a missing binding, a uniform of the wrong size) fails
//! when the pipeline is built, with a message naming the kernel and the binding.

mod common;
use wgpu_gan::gpu::{Dispatch, Gpu};
use wgpu_gan::nn::conv::{ConvForward, ConvParams};

wgpu_gan::kernel! {
    /// conv2d_forward with its x and wt bindings swapped.
    Swapped = "conv" :: "conv2d_forward", ConvParams { 1 wt: Read, 2 x: Read, 3 b: Read, 5 out: ReadWrite }
    trips: |_, _| 0;
}
wgpu_gan::kernel! {
    /// conv2d_forward declaring its output read-only.
    ReadOnlyOut = "conv" :: "conv2d_forward", ConvParams { 1 x: Read, 2 wt: Read, 3 b: Read, 5 out: Read }
    trips: |_, _| 0;
}
wgpu_gan::kernel! {
    /// conv2d_forward without its bias binding.
    NoBias = "conv" :: "conv2d_forward", ConvParams { 1 x: Read, 2 wt: Read, 5 out: ReadWrite }
    trips: |_, _| 0;
}
wgpu_gan::kernel! {
    /// conv2d_forward with a 16-byte uniform (the WGSL's is ConvParams's size).
    SmallUniform = "conv" :: "conv2d_forward", [u32; 4] { 1 x: Read, 2 wt: Read, 3 b: Read, 5 out: ReadWrite }
    trips: |_, _| 0;
}

wgpu_gan::uniform! {
    /// ConvParams with `kh` and `kw` swapped: the same size and types, the wrong order.
    #[repr(C)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    struct SwappedParams {
        n: u32,
        cin: u32,
        h: u32,
        w: u32,
        cout: u32,
        oh: u32,
        ow: u32,
        kw: u32,
        kh: u32,
        stride_y: u32,
        stride_x: u32,
        pad_y: u32,
        pad_x: u32,
        dil_y: u32,
        dil_x: u32,
        tap_step_y: u32,
        tap_step_x: u32,
        flags: u32,
        n_per: u32,
        y_per: u32,
        y_splits: u32,
        _pad: [u32; 3],
    }
}
wgpu_gan::kernel! {
    /// conv2d_forward with a uniform whose fields kh and kw are swapped.
    SwappedFields = "conv" :: "conv2d_forward", SwappedParams { 1 x: Read, 2 wt: Read, 3 b: Read, 5 out: ReadWrite }
    trips: |_, _| 0;
}

fn error_of<B: wgpu_gan::gpu::Bindings>(gpu: &Gpu, b: &B, p: &B::Params) -> String {
    match Dispatch::new(gpu, b, p, Some(1)) {
        Ok(_) => panic!("a wrong declaration of {} was accepted", B::ENTRIES[0]),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_declaration_that_disagrees_with_the_wgsl_is_refused() {
    let gpu = common::gpu();
    let t = common::tensor(&gpu, &[0.0; 16]);
    let b = &t.buffer;
    let p = ConvParams::default();
    // The correct declaration builds.
    Dispatch::new(&gpu, &ConvForward { x: b, wt: b, b, out: b }, &p, Some(1)).unwrap();
    let uniform = format!("is {} bytes in the WGSL; the parameter struct has 16", std::mem::size_of::<ConvParams>());
    let cases = [
        (error_of(&gpu, &Swapped { wt: b, x: b, b, out: b }, &p), "binding 1 is `x` in the WGSL but declared as `wt`"),
        (error_of(&gpu, &ReadOnlyOut { x: b, wt: b, b, out: b }, &p), "binding 5 (`out`) is ReadWrite in the WGSL but declared Read"),
        (error_of(&gpu, &NoBias { x: b, wt: b, out: b }, &p), "uses binding 3 (`b`), which is not declared"),
        (error_of(&gpu, &SmallUniform { x: b, wt: b, b, out: b }, &[0; 4]), uniform.as_str()),
        (error_of(&gpu, &SwappedFields { x: b, wt: b, b, out: b }, &SwappedParams::default()), "uniform member 7 is `kh: u32` at offset 28 in the WGSL but `kw: u32` at offset 28"),
    ];
    for (err, want) in cases {
        println!("refused: {err}");
        assert!(err.contains("conv::conv2d_forward") && err.contains(want), "{err}\n  should say: {want}");
    }
}

/// The entry-point list of a multi-entry declaration is checked too.
#[test]
fn an_entry_point_outside_the_declaration_is_refused() {
    let gpu = common::gpu();
    let t = common::tensor(&gpu, &[0.0; 4]);
    let act = wgpu_gan::nn::activation::ActForward { entry: "relu_backward", x: &t.buffer, out: &t.buffer };
    let err = Dispatch::new(&gpu, &act, &Default::default(), Some(1)).err().expect("relu_backward takes dy").to_string();
    println!("refused: {err}");
    assert!(err.contains("relu_backward"), "{err}");
}

/// A buffer smaller than its binding needs (here 24 bytes for the 28-byte `Stats` struct) is an
/// error naming the kernel and the binding, not a panic inside wgpu.
#[test]
fn a_buffer_too_small_for_its_binding_is_refused() {
    let gpu = common::gpu();
    let (logits, out, stats) = (common::tensor(&gpu, &[0.0; 4]), common::tensor(&gpu, &[0.0; 4]), common::tensor(&gpu, &[0.0; 6]));
    let p = wgpu_gan::loss::LossParams { n_fake: 2, n_real: 2, kind: 0, _pad: 0 };
    let err = Dispatch::new(&gpu, &wgpu_gan::loss::GanLossD { logits: &logits.buffer, out: &out.buffer, stats: &stats.buffer }, &p, None).err().expect("24 bytes for a 28-byte struct").to_string();
    println!("refused: {err}");
    assert!(err.contains("loss::gan_loss_d") && err.contains("`stats`") && err.contains("28"), "{err}");
}

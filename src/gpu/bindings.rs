//! Typed kernel launches. Every entry point's bindings are a Rust struct with one named field per
//! storage buffer, declared with [`kernel!`](crate::kernel) beside the code that launches it:
//!
//! ```ignore
//! crate::kernel! {
//!     /// y = conv(x, w) + b
//!     pub ConvForward = "conv" :: "conv2d_forward", ConvParams {
//!         1 x: Read, 2 wt: Read, 3 b: Read, 5 out: ReadWrite,
//!     }
//! }
//! let d = Dispatch::new(gpu, &ConvForward { x, wt, b, out }, &params, Some(threads))?;
//! ```
//!
//! The first time a kernel is built, the WGSL module is reflected with naga and the declaration
//! is checked against it: the same bindings (numbers, names as the WGSL spells them, access
//! modes) as the entry point uses, and a uniform of exactly the size of the parameter struct.
//! Any difference is an error naming the kernel and the binding, so two buffers swapped in a
//! declaration, a renamed WGSL variable or a grown uniform fail at pipeline creation instead of
//! computing wrong numbers.

use crate::error::{Error, Result};

/// How a kernel accesses a storage buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`
    Read,
    /// `var<storage, read_write>`
    ReadWrite,
}

/// One declared storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub binding: u32,
    pub name: &'static str,
    pub access: Access,
}

/// A kernel's bindings: implemented by the structs that [`kernel!`](crate::kernel) declares.
pub trait Bindings {
    /// The uniform struct (`()` for a kernel without one).
    type Params: bytemuck::Pod;
    /// Shader file (a name in [`super::SHADERS`]).
    const FILE: &'static str;
    /// Entry points that take exactly these bindings.
    const ENTRIES: &'static [&'static str];
    /// Storage bindings in ascending binding order.
    const SLOTS: &'static [Slot];
    /// The entry point this launch runs.
    fn entry(&self) -> &'static str {
        Self::ENTRIES[0]
    }
    /// The buffers, in [`Bindings::SLOTS`] order.
    fn buffers(&self) -> Vec<&wgpu::Buffer>;
}

/// What reflection found an entry point to use: its storage bindings (ascending) and the byte size
/// of its uniform, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Reflected {
    pub slots: Vec<Slot>,
    /// The fewest bytes each storage binding's buffer must have (a struct's size, or one element
    /// of a runtime-sized array), in `slots` order.
    pub min_bytes: Vec<u64>,
    pub uniform: Option<(u32, usize)>,
}

/// Compares a declaration with what naga reflected from the WGSL.
pub fn check(kernel: &str, declared: &[Slot], params_size: usize, found: &Reflected) -> Result<()> {
    let err = |m: String| Err(Error::Binding { kernel: kernel.to_string(), message: m });
    for (i, d) in declared.iter().enumerate() {
        let Some(f) = found.slots.iter().find(|f| f.binding == d.binding) else {
            return err(format!("binding {} (`{}`) is declared but the entry point does not use it", d.binding, d.name));
        };
        if f.name != d.name {
            return err(format!("binding {} is `{}` in the WGSL but declared as `{}`", d.binding, f.name, d.name));
        }
        if f.access != d.access {
            return err(format!("binding {} (`{}`) is {:?} in the WGSL but declared {:?}", d.binding, d.name, f.access, d.access));
        }
        if i > 0 && declared[i - 1].binding >= d.binding {
            return err(format!("binding {} (`{}`) is declared out of ascending order", d.binding, d.name));
        }
    }
    if let Some(f) = found.slots.iter().find(|f| !declared.iter().any(|d| d.binding == f.binding)) {
        return err(format!("the entry point uses binding {} (`{}`), which is not declared", f.binding, f.name));
    }
    match found.uniform {
        Some((b, size)) if size != params_size => err(format!("the uniform at binding {b} is {size} bytes in the WGSL; the parameter struct has {params_size}")),
        None if params_size != 0 => err(format!("the entry point has no uniform but a {params_size}-byte parameter struct is declared")),
        _ => Ok(()),
    }
}

/// Declares the bindings of one or more entry points (see the module documentation). Fields are
/// `binding name: Read | ReadWrite` in ascending binding order; the uniform type follows the
/// entry point after a comma (omit it for a kernel without one). Several entry points with the
/// same bindings are written `"file" :: ["a", "b"]`; the struct then has an `entry` field.
#[macro_export]
macro_rules! kernel {
    (@params) => { () };
    (@params $p:ty) => { $p };
    ($(#[$m:meta])* $vis:vis $name:ident = $file:literal :: $entry:literal $(, $p:ty)? { $($bind:literal $field:ident : $acc:ident),* $(,)? }) => {
        $(#[$m])*
        $vis struct $name<'a> { $(pub $field: &'a wgpu::Buffer),* }
        impl $crate::gpu::Bindings for $name<'_> {
            type Params = $crate::kernel!(@params $($p)?);
            const FILE: &'static str = $file;
            const ENTRIES: &'static [&'static str] = &[$entry];
            const SLOTS: &'static [$crate::gpu::Slot] = &[$($crate::gpu::Slot { binding: $bind, name: stringify!($field), access: $crate::gpu::Access::$acc }),*];
            fn buffers(&self) -> Vec<&wgpu::Buffer> { vec![$(self.$field),*] }
        }
    };
    ($(#[$m:meta])* $vis:vis $name:ident = $file:literal :: [$($entry:literal),+ $(,)?] $(, $p:ty)? { $($bind:literal $field:ident : $acc:ident),* $(,)? }) => {
        $(#[$m])*
        $vis struct $name<'a> { pub entry: &'static str, $(pub $field: &'a wgpu::Buffer),* }
        impl $crate::gpu::Bindings for $name<'_> {
            type Params = $crate::kernel!(@params $($p)?);
            const FILE: &'static str = $file;
            const ENTRIES: &'static [&'static str] = &[$($entry),+];
            const SLOTS: &'static [$crate::gpu::Slot] = &[$($crate::gpu::Slot { binding: $bind, name: stringify!($field), access: $crate::gpu::Access::$acc }),*];
            fn entry(&self) -> &'static str { self.entry }
            fn buffers(&self) -> Vec<&wgpu::Buffer> { vec![$(self.$field),*] }
        }
    };
}

// The training step counter that the random-number and optimizer kernels read.
//   advance_step   counter (1) -> counter[0] + 1   (one invocation; the last dispatch of a step)

@group(0) @binding(0) var<storage, read_write> counter: array<u32>;

@compute @workgroup_size(1)
fn advance_step() {
    counter[0] = counter[0] + 1u;
}

//! Mutation fuzzing of the readers that take users' files (MNIST IDX, raw and gzip; checkpoints;
//! PNG and JPEG images through the image-folder reader):
//! every mutated file must be read or refused with an error, never panic. Prints the counts and
//! exits non-zero on any panic (the offending input is saved beside the run's files). Run its
//! peak memory through `/usr/bin/time -v` to see that file sizes bound what the readers allocate.
//!
//!     cargo run --release --example fuzz_readers -- --cases 100000 --seed 1

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Fuzz the IDX, checkpoint and image-folder readers with mutated files")]
struct Args {
    /// Cases per reader.
    #[arg(long, default_value_t = 20_000, value_parser = wgpu_gan::cli::at_least_one)]
    cases: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scratch directory for the mutated files.
    #[arg(long, default_value = "out/fuzz")]
    dir: std::path::PathBuf,
}

fn main() -> ExitCode {
    let a = Args::parse();
    // Panics are expected to be caught and counted; keep their messages out of the way.
    std::panic::set_hook(Box::new(|_| {}));
    let t = std::time::Instant::now();
    let idx = wgpu_gan::fuzz::idx(a.cases, a.seed, &a.dir.join("idx"));
    let ck = wgpu_gan::fuzz::checkpoints(a.cases, a.seed, &a.dir.join("checkpoint"));
    let img = wgpu_gan::fuzz::images(a.cases, a.seed, &a.dir.join("images"));
    let _ = std::panic::take_hook();
    for (name, r) in [("IDX reader", &idx), ("checkpoint reader", &ck), ("image folder reader", &img)] {
        println!("{name:<20} {} cases: {} accepted, {} refused with an error, {} panics", r.cases, r.accepted, r.refused, r.panics.len());
        for p in &r.panics {
            println!("  panic: {p}");
        }
    }
    println!("{:.1} s", t.elapsed().as_secs_f64());
    if idx.panics.is_empty() && ck.panics.is_empty() && img.panics.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

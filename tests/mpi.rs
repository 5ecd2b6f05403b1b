//! Data-parallel training between processes over MPI (issue 26), on the software adapter over
//! loopback: `mpirun -np 2` of the example binaries (built with the `mpi` feature by this very
//! `cargo test --features mpi`). Needs Open MPI's `mpirun` (Debian: openmpi-bin); fails, saying
//! so, without it.
//!
//! - 2 ranks × batch B against one process at 2B (R1 and R2, 3 steps each judged ≤ 1e-5); with
//!   per-rank batch norm R2 parts ways through the batch statistics alone.
//! - A 2-rank run stopped at a checkpoint and resumed on 2 ranks logs the same losses, step for
//!   step, as one that ran straight through (the shards depend on the step alone).
//! - Killing one rank with SIGKILL mid-run makes the other exit non-zero within a bounded time,
//!   with a message; the checkpoint left behind is a whole one. A rank that stops answering
//!   (SIGSTOP) is caught by the other's watchdog.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// target/<profile>/examples/<name>, beside this test's own binary in target/<profile>/deps.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().parent().unwrap().join("examples").join(name);
    assert!(p.is_file(), "{} is not built (cargo test --features mpi builds the examples)", p.display());
    p
}

/// `mpirun -np <np> <binary> <args>`, allowed to run as root (CI containers do) and to put two
/// ranks on a machine of any size, over TCP on the loopback interface (what ranks on two
/// machines use; Open MPI would take shared memory on one).
fn mpirun(np: usize, binary: &Path, args: &[&str]) -> Command {
    let which = Command::new("mpirun").arg("--version").output();
    assert!(which.is_ok_and(|o| o.status.success()), "mpirun was not found: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev)");
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "--mca", "btl", "self,tcp", "-np", &np.to_string()])
        .arg(binary)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()));
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `ddp --check` on 2 ranks: (passed, output).
fn check(model: &str, batch: usize, sync_bn: &str) -> (bool, String) {
    let b = batch.to_string();
    let o = mpirun(2, &example("ddp"), &["--check", "--model", model, "--batch", &b, "--steps", "3", "--sync-bn", sync_bn, "--no-tune"]).output().unwrap();
    let t = text(&o);
    println!("{t}");
    (o.status.success(), t)
}

#[test]
fn two_ranks_take_the_steps_of_one_process_at_twice_the_batch() {
    for (model, batch) in [("r1", 64), ("r2", 8)] {
        let (ok, out) = check(model, batch, "on");
        assert!(ok && out.contains("check: PASS"), "{model}: {out}");
        // Three judged steps, each line with its figures.
        assert_eq!(out.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).count(), 3, "{out}");
    }
    // Without SyncBN: R1 (no batch norm) is the same run; R2 is not, by far more than rounding.
    assert!(check("r1", 64, "off").0);
    let (ok, out) = check("r2", 8, "off");
    assert!(!ok && out.contains("check: FAIL"), "{out}");
}

/// The processes whose parent is `parent`.
fn children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // pid (comm) state ppid ...: the fields after the last ')'.
        let ppid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

/// The pid of rank `rank` among mpirun's children (Open MPI names it in each rank's environment).
fn rank_pid(mpirun: u32, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    children(mpirun).into_iter().find(|pid| std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == want.as_bytes())))
}

fn mnist_dir() -> String {
    let dir = std::env::var("MNIST_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/mnist").into());
    assert!(Path::new(&dir).is_dir(), "the MPI kill test trains on MNIST: set MNIST_DIR (not found at {dir})");
    dir
}

/// Trains R5 (MLPs on MNIST) on 2 ranks, checkpointing every 2 steps, and hurts rank 1 with
/// `signal` once a checkpoint is down: (mpirun's output, seconds from the signal to its exit,
/// its exit status, the output directory).
fn hurt_rank_one(signal: &str, tag: &str) -> (String, f64, std::process::ExitStatus, PathBuf) {
    let out = std::env::temp_dir().join(format!("wgpu-gan-mpi-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let dir = mnist_dir();
    let args = ["--mnist-dir", &dir, "--iters", "100000", "--batch", "16", "--checkpoint-every", "2", "--log-every", "1", "--sample-every", "1000000", "--no-tune", "--mpi-timeout", "10", "--out", out.to_str().unwrap()];
    let log = out.with_extension("log");
    let mut child = mpirun(2, &example("mlp_gan_mnist"), &args).stdout(std::fs::File::create(&log).unwrap()).stderr(Stdio::from(std::fs::File::create(log.with_extension("err")).unwrap())).spawn().unwrap();
    let t = Instant::now();
    while !out.join("checkpoint.safetensors").is_file() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early: {}", std::fs::read_to_string(log.with_extension("err")).unwrap_or_default());
        assert!(t.elapsed() < Duration::from_secs(120), "no checkpoint within 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let victim = rank_pid(child.id(), 1).expect("rank 1's process");
    assert!(Command::new("kill").args([signal, &victim.to_string()]).status().unwrap().success());
    let hurt = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if hurt.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("mpirun still ran 90 s after rank 1 got {signal}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let secs = hurt.elapsed().as_secs_f64();
    let _ = Command::new("kill").args(["-9", &victim.to_string()]).stderr(Stdio::null()).status(); // a stopped rank, if left
    let said = format!("{}{}", std::fs::read_to_string(&log).unwrap_or_default(), std::fs::read_to_string(log.with_extension("err")).unwrap_or_default());
    println!("{said}\nrank 1 got {signal}: mpirun exited {secs:.1} s later with {status:?}");
    (said, secs, status, out)
}

/// What a run stopped mid-step left: a whole checkpoint (it loads, at a step it reached). A
/// checkpoint is written to `<name>.tmp` and renamed: a rank stopped inside that write may leave
/// the `.tmp` (never a cut `checkpoint.safetensors`), which the next write replaces.
fn only_whole_files(out: &Path) {
    // R5 on MNIST, as mlp_gan_mnist trains it.
    let m = wgpu_gan::data::mnist::Mnist::load(Path::new(&mnist_dir()), wgpu_gan::data::mnist::Split::Train).unwrap();
    let table = wgpu_gan::gan::Table::new(m.images, 784).unwrap();
    let mut cfg = wgpu_gan::gan::GanConfig::r5(std::sync::Arc::new(table));
    cfg.batch = 2 * 16; // the whole batch of the 2 ranks
    let (state, _) = wgpu_gan::gan::load_checkpoint(&out.join("checkpoint.safetensors"), &cfg).expect("the checkpoint left behind loads");
    assert!(state.step >= 2 && state.step % 2 == 0, "checkpoint at step {}", state.step);
    for e in std::fs::read_dir(out).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            println!("left by a write the stop cut short: {name} (the checkpoint beside it is whole)");
        }
    }
}

#[test]
fn killing_one_rank_stops_the_other_with_a_message() {
    let (said, secs, status, out) = hurt_rank_one("-KILL", "kill");
    assert!(!status.success(), "mpirun exited 0 after a rank was killed");
    assert!(secs < 30.0, "the other rank took {secs:.1} s to stop");
    assert!(said.contains("signal 9") || said.contains("no answer from the other ranks"), "no message names the lost rank:\n{said}");
    only_whole_files(&out);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_rank_that_stops_answering_is_caught_by_the_watchdog() {
    // SIGSTOP: rank 1 neither dies nor answers; rank 0's watchdog (--mpi-timeout 10) ends it.
    // (10 s, not less: the watchdog also covers the start-up check, which waits for the slower
    // rank to build its GAN.)
    let (said, secs, status, out) = hurt_rank_one("-STOP", "stop");
    assert!(!status.success(), "mpirun exited 0 after a rank stopped");
    assert!(said.contains("no answer from the other ranks for"), "the watchdog did not speak:\n{said}");
    assert!((9.0..40.0).contains(&secs), "stopped after {secs:.1} s; the timeout was 10 s");
    only_whole_files(&out);
    let _ = std::fs::remove_dir_all(&out);
}

/// The loss log without its seconds column.
fn losses(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("losses.csv")).unwrap_or_default();
    text.lines().skip(1).map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string()).collect()
}

#[test]
fn a_resumed_two_rank_run_logs_what_a_straight_one_does() {
    let base = std::env::temp_dir().join(format!("wgpu-gan-mpi-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let dir = mnist_dir();
    let run = |out: &Path, iters: &str, resume: bool| {
        let ckpt = out.join("checkpoint.safetensors");
        let mut args = vec!["--mnist-dir", &dir, "--iters", iters, "--batch", "8", "--checkpoint-every", "3", "--log-every", "1", "--no-tune", "--out", out.to_str().unwrap()];
        if resume {
            args.extend(["--resume", ckpt.to_str().unwrap()]);
        }
        let o = mpirun(2, &example("mlp_gan_mnist"), &args).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    let (straight, stopped) = (base.join("straight"), base.join("stopped"));
    run(&straight, "6", false);
    run(&stopped, "3", false);
    run(&stopped, "6", true);
    let (a, b) = (losses(&straight), losses(&stopped));
    println!("straight:\n{}\nresumed at 3:\n{}", a.join("\n"), b.join("\n"));
    assert_eq!(a.len(), 6);
    assert_eq!(a, b);
    // The checkpoint records the whole batch, 2 × 8: one process resumes it at batch 16 (the same
    // training), not at 8.
    let ckpt = stopped.join("checkpoint.safetensors");
    let alone = |batch: &str| {
        Command::new(example("mlp_gan_mnist"))
            .args(["--mnist-dir", &dir, "--iters", "7", "--batch", batch, "--no-tune", "--resume", ckpt.to_str().unwrap(), "--out", base.join("alone").to_str().unwrap()])
            .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()))
            .output()
            .unwrap()
    };
    let wrong = alone("8");
    assert!(!wrong.status.success() && text(&wrong).contains("batch"), "{}", text(&wrong));
    let right = alone("16");
    assert!(right.status.success(), "{}", text(&right));
    let _ = std::fs::remove_dir_all(&base);
}

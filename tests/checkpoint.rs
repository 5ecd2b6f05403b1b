//! Checkpoints: round trip, every kind of broken file, lookup errors, atomic replacement.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use wgpu_gan::checkpoint::{Checkpoint, Data, FORMAT};
use wgpu_gan::Error;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!(
            "wgpu-gan-checkpoint-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample() -> Checkpoint {
    let mut c = Checkpoint::new();
    let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    c.push_f32("G.fc.weight", &[3, 4], &w);
    c.push_f32("G.fc.bias", &[3], &[0.5, -0.0, 1e-40]);
    c.push_f32(
        "D.special",
        &[2, 2],
        &[
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::from_bits(0x7fc0_1234),
            f32::MIN_POSITIVE,
        ],
    );
    c.push_f32("scalar", &[], &[7.5]);
    c.push_f32("empty", &[0, 5], &[]);
    c.push_i64("step", &[1], &[1234567890123]);
    c.push_i64("extremes", &[3], &[i64::MIN, -1, i64::MAX]);
    c.push_u32("rng.state", &[2, 2], &[0, 1, u32::MAX, 0xdead_beef]);
    c.set_meta("config", "{\"lr\":0.0002}");
    c.set_meta("step", 42);
    c
}

fn ck_msg<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Checkpoint(m)) => m,
        other => panic!("expected Error::Checkpoint, got {other:?}"),
    }
}

fn no_tmp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "left behind {name}");
    }
}

#[test]
fn round_trip_all_dtypes_and_metadata() {
    let dir = TempDir::new("roundtrip");
    let path = dir.path("nested/deeper/ck.safetensors");
    let c = sample();
    c.save(&path).unwrap();
    let l = Checkpoint::load(&path).unwrap();

    assert_eq!(l.entries.len(), c.entries.len());
    assert_eq!(l.metadata, c.metadata);
    assert_eq!(l.meta("format").unwrap(), FORMAT);
    assert_eq!(l.meta("step").unwrap(), "42");
    assert_eq!(l.meta("config").unwrap(), "{\"lr\":0.0002}");
    for e in &c.entries {
        let got = l.entries.iter().find(|g| g.name == e.name).unwrap();
        assert_eq!(got.shape, e.shape, "{}", e.name);
        match (&got.data, &e.data) {
            // Bit for bit, NaN payload, −0 and subnormals included.
            (Data::F32(a), Data::F32(b)) => {
                assert_eq!(
                    a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                )
            }
            (a, b) => assert_eq!(a, b, "{}", e.name),
        }
    }
    assert_eq!(l.f32("G.fc.weight", &[3, 4]).unwrap()[5], 0.25);
    assert_eq!(l.f32("scalar", &[]).unwrap(), &[7.5]);
    assert!(l.f32("empty", &[0, 5]).unwrap().is_empty());
    assert_eq!(l.i64("extremes", &[3]).unwrap(), &[i64::MIN, -1, i64::MAX]);
    assert_eq!(l.i64("step", &[1]).unwrap(), &[1234567890123]);
    assert_eq!(
        l.u32("rng.state", &[2, 2]).unwrap(),
        &[0, 1, u32::MAX, 0xdead_beef]
    );
    no_tmp_files(&dir.path("nested/deeper"));

    // It is a plain safetensors file for other readers too, little-endian.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("rng.state").unwrap();
    assert_eq!(t.dtype(), safetensors::Dtype::U32);
    assert_eq!(&t.data()[8..12], &u32::MAX.to_le_bytes());
    assert_eq!(&t.data()[12..16], &0xdead_beefu32.to_le_bytes());
}

#[test]
fn new_has_format_and_set_meta_replaces() {
    let mut c = Checkpoint::new();
    assert_eq!(c.meta("format").unwrap(), FORMAT);
    c.set_meta("k", 1.5);
    c.set_meta("k", "two");
    assert_eq!(c.meta("k").unwrap(), "two");
    let m = ck_msg(c.meta("nope"));
    assert!(m.contains("nope"), "{m}");
}

#[test]
fn truncated_files_are_refused_at_every_length() {
    let dir = TempDir::new("truncated");
    let good = dir.path("good.safetensors");
    sample().save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert!(
        bytes.len() > 8 + header_len,
        "the sample has a data section"
    );

    let cut = dir.path("cut.safetensors");
    for len in 0..bytes.len() {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let m = ck_msg(Checkpoint::load(&cut));
        assert!(m.contains("truncated"), "cut at {len}: {m}");
        assert!(
            m.contains("cut.safetensors"),
            "cut at {len}: the message names the file: {m}"
        );
        if len < 8 {
            assert!(m.contains("too short"), "cut at {len}: {m}");
        } else if len < 8 + header_len {
            assert!(m.contains("header length"), "cut at {len}: {m}");
        }
    }
    // Specific cuts named in the brief: 4 bytes, mid-header, mid-data.
    for len in [
        4,
        8 + header_len / 2,
        8 + header_len + (bytes.len() - 8 - header_len) / 2,
    ] {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        assert!(ck_msg(Checkpoint::load(&cut)).contains("truncated"));
    }
    // Trailing garbage is refused too (the data section no longer matches the header).
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0u8; 3]);
    std::fs::write(&cut, &longer).unwrap();
    assert!(ck_msg(Checkpoint::load(&cut)).contains("not a safetensors file"));
    // The intact file still loads.
    Checkpoint::load(&good).unwrap();
}

#[test]
fn missing_file() {
    let dir = TempDir::new("missing");
    let p = dir.path("absent.safetensors");
    let m = ck_msg(Checkpoint::load(&p));
    assert!(
        m.contains("absent.safetensors") && m.contains("no such"),
        "{m}"
    );
}

#[test]
fn random_bytes_are_not_a_checkpoint() {
    let dir = TempDir::new("random");
    let p = dir.path("random.bin");
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s as u8
    };
    let random: Vec<u8> = (0..4096).map(|_| next()).collect();
    std::fs::write(&p, &random).unwrap();
    let m = ck_msg(Checkpoint::load(&p));
    assert!(m.contains("not a safetensors file"), "{m}");

    // A plausible header length followed by random bytes: the header is not JSON.
    let mut plausible = 200u64.to_le_bytes().to_vec();
    plausible.extend_from_slice(&random[..1000]);
    std::fs::write(&p, &plausible).unwrap();
    let m = ck_msg(Checkpoint::load(&p));
    assert!(m.contains("truncated or not a safetensors file"), "{m}");
}

fn write_foreign(
    path: &Path,
    meta: Option<HashMap<String, String>>,
    dtype: safetensors::Dtype,
    bytes: &[u8],
    shape: Vec<usize>,
) {
    let view = safetensors::tensor::TensorView::new(dtype, shape, bytes).unwrap();
    let out = safetensors::serialize([("w", view)], meta).unwrap();
    std::fs::write(path, out).unwrap();
}

#[test]
fn safetensors_without_our_format_is_refused() {
    let dir = TempDir::new("foreign");
    let p = dir.path("foreign.safetensors");
    let data: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();

    write_foreign(&p, None, safetensors::Dtype::F32, &data, vec![2]);
    let m = ck_msg(Checkpoint::load(&p));
    assert!(m.contains("not a wgpu-gan checkpoint"), "{m}");

    let meta = HashMap::from([("something".to_string(), "else".to_string())]);
    write_foreign(&p, Some(meta), safetensors::Dtype::F32, &data, vec![2]);
    assert!(ck_msg(Checkpoint::load(&p)).contains("not a wgpu-gan checkpoint"));

    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_foreign(&p, Some(meta), safetensors::Dtype::F32, &data, vec![2]);
    let m = ck_msg(Checkpoint::load(&p));
    assert!(
        m.contains("not a wgpu-gan checkpoint (format") && m.contains("pt"),
        "{m}"
    );

    // Our format tag, but a dtype this crate never writes.
    let meta = HashMap::from([("format".to_string(), FORMAT.to_string())]);
    write_foreign(
        &p,
        Some(meta.clone()),
        safetensors::Dtype::F16,
        &[0, 60, 0, 64],
        vec![2],
    );
    let m = ck_msg(Checkpoint::load(&p));
    assert!(
        m.contains("unsupported dtype") && m.contains("F16") && m.contains('w'),
        "{m}"
    );

    // And with our tag and a supported dtype it loads.
    write_foreign(&p, Some(meta), safetensors::Dtype::F32, &data, vec![2]);
    assert_eq!(
        Checkpoint::load(&p).unwrap().f32("w", &[2]).unwrap(),
        &[1.0, 2.0]
    );
}

#[test]
fn lookup_errors_name_the_tensor() {
    let c = sample();
    let m = ck_msg(c.f32("G.fc.weight", &[4, 3]));
    assert_eq!(
        m,
        "tensor G.fc.weight has shape [3, 4], this model expects [4, 3]"
    );
    let m = ck_msg(c.f32("G.fc.weight", &[12]));
    assert!(m.contains("G.fc.weight") && m.contains("[12]"), "{m}");
    let m = ck_msg(c.f32("G.fc2.weight", &[3, 4]));
    assert!(m.contains("G.fc2.weight") && m.contains("missing"), "{m}");
    let m = ck_msg(c.i64("G.fc.bias", &[3]));
    assert!(
        m.contains("G.fc.bias") && m.contains("F32") && m.contains("I64"),
        "{m}"
    );
    let m = ck_msg(c.u32("step", &[1]));
    assert!(m.contains("step") && m.contains("U32"), "{m}");
    let m = ck_msg(c.f32("rng.state", &[2, 2]));
    assert!(m.contains("rng.state"), "{m}");
}

#[test]
#[should_panic(expected = "shape")]
fn push_with_wrong_length_panics() {
    Checkpoint::new().push_f32("x", &[2, 3], &[1.0; 5]);
}

#[test]
#[should_panic(expected = "twice")]
fn push_twice_panics() {
    let mut c = Checkpoint::new();
    c.push_u32("x", &[1], &[1]);
    c.push_u32("x", &[1], &[2]);
}

#[test]
fn atomic_save_overwrites_and_leaves_no_tmp() {
    let dir = TempDir::new("atomic");
    let path = dir.path("ck.safetensors");

    let mut first = Checkpoint::new();
    first.push_f32("w", &[2], &[1.0, 2.0]);
    first.set_meta("step", 1);
    first.save(&path).unwrap();
    no_tmp_files(&dir.0);

    // A stale .tmp from an earlier crash is overwritten and does not survive.
    std::fs::write(dir.path("ck.safetensors.tmp"), b"half-written junk").unwrap();
    let mut second = Checkpoint::new();
    second.push_f32("w", &[3], &[3.0, 4.0, 5.0]);
    second.push_i64("step", &[1], &[2]);
    second.set_meta("step", 2);
    second.save(&path).unwrap();
    no_tmp_files(&dir.0);
    let names: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("ck.safetensors")]);

    let l = Checkpoint::load(&path).unwrap();
    assert_eq!(l.meta("step").unwrap(), "2");
    assert_eq!(l.f32("w", &[3]).unwrap(), &[3.0, 4.0, 5.0]);
    assert_eq!(l.i64("step", &[1]).unwrap(), &[2]);
}

#[test]
fn failed_save_keeps_the_previous_checkpoint() {
    let dir = TempDir::new("failed");
    let path = dir.path("ck.safetensors");
    let mut c = Checkpoint::new();
    c.push_f32("w", &[1], &[1.0]);
    c.save(&path).unwrap();

    // Make the temporary file impossible to create: a directory sits at its name.
    std::fs::create_dir(dir.path("ck.safetensors.tmp")).unwrap();
    let mut d = Checkpoint::new();
    d.push_f32("w", &[1], &[2.0]);
    let err = d.save(&path).unwrap_err();
    assert!(
        matches!(err, Error::Io(_) | Error::Checkpoint(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("ck.safetensors.tmp"), "{err}");
    assert_eq!(
        Checkpoint::load(&path).unwrap().f32("w", &[1]).unwrap(),
        &[1.0]
    );
}

/// A diverged run must not replace a good checkpoint: saving NaN or infinite weights is refused
/// with the tensor's name and the step, and the file on disk stays as it was; loading such a file
/// (written by something else) is refused too, for resuming and for scoring (`evaluate`).
#[test]
fn non_finite_weights_are_never_written_or_loaded() {
    use wgpu_gan::gan::{load_checkpoint, load_generator, save_checkpoint, GanConfig, GanState};
    let dir = TempDir::new("nonfinite");
    let path = dir.path("checkpoint.safetensors");
    let cfg = GanConfig::r1(wgpu_gan::data::Mixture::ring(), 2, 8);
    let (g, d) = cfg.init_params();
    let zeros = |p: &Vec<Vec<f32>>, k: usize| p.iter().map(|t| vec![vec![0.0; t.len()]; k]).collect::<Vec<_>>();
    let good = GanState { opt_g: zeros(&g, cfg.opt_g.state_count()), opt_d: zeros(&d, cfg.opt_d.state_count()), g, d, g_running: vec![], d_running: vec![], step: 7 };
    save_checkpoint(&path, &cfg, &good).unwrap();
    let before = std::fs::read(&path).unwrap();
    for bad_value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut bad = good.clone();
        bad.step = 8;
        bad.d[2][1] = bad_value;
        let err = save_checkpoint(&path, &cfg, &bad).unwrap_err();
        println!("{err}");
        assert!(matches!(err, Error::NonFinite(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("D.2.weight") && msg.contains("index 1") && msg.contains("step 8") && msg.contains("left as it was"), "{msg}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "the good checkpoint must be untouched");
        assert_eq!(load_checkpoint(&path, &cfg).unwrap().0.step, 7);
    }
    // The same weights written by another tool: refused when resuming and when scoring G.
    let mut c = Checkpoint::load(&path).unwrap();
    for e in c.entries.iter_mut().filter(|e| e.name == "G.0.bias") {
        if let Data::F32(v) = &mut e.data {
            v[0] = f32::NAN;
        }
    }
    let other = dir.path("other.safetensors");
    std::fs::write(&other, c.to_bytes().unwrap()).unwrap();
    for err in [load_checkpoint(&other, &cfg).map(|_| ()).unwrap_err(), load_generator(&other, &cfg.generator).map(|_| ()).unwrap_err()] {
        println!("{err}");
        assert!(err.to_string().contains("G.0.bias") && err.to_string().contains("NaN or infinite"), "{err}");
    }
}

/// A run with the original WGAN critic schedule records it in its checkpoint, and resumes only
/// into a run with the same schedule (its long steps depend on the step count): another schedule,
/// or none, is refused with a message that names it; and a run without one still refuses a
/// checkpoint that has one.
#[test]
fn the_critic_schedule_is_part_of_a_checkpoint() {
    use wgpu_gan::gan::{load_checkpoint, save_checkpoint, CriticBurst, GanConfig, GanState};
    let dir = TempDir::new("critic-schedule");
    let path = dir.path("checkpoint.safetensors");
    let base = GanConfig::r1(wgpu_gan::data::Mixture::ring(), 2, 8).wgan_clip(0.01, 5, 5e-5);
    let with = GanConfig { critic_burst: Some(CriticBurst::ORIGINAL), ..base.clone() };
    let (g, d) = with.init_params();
    let zeros = |p: &Vec<Vec<f32>>, k: usize| p.iter().map(|t| vec![vec![0.0; t.len()]; k]).collect::<Vec<_>>();
    let state = GanState { opt_g: zeros(&g, with.opt_g.state_count()), opt_d: zeros(&d, with.opt_d.state_count()), g, d, g_running: vec![], d_running: vec![], step: 30 };
    save_checkpoint(&path, &with, &state).unwrap();
    assert_eq!(load_checkpoint(&path, &with).unwrap().0.step, 30);
    let other = GanConfig { critic_burst: Some(CriticBurst { k: 50, ..CriticBurst::ORIGINAL }), ..base.clone() };
    let e = load_checkpoint(&path, &other).unwrap_err().to_string();
    assert!(e.contains("critic_burst") && e.contains("100 updates"), "{e}");
    let e = load_checkpoint(&path, &base).unwrap_err().to_string();
    assert!(e.contains("critic schedule") && e.contains("has none"), "{e}");
    save_checkpoint(&path, &base, &state).unwrap();
    assert!(load_checkpoint(&path, &with).is_err(), "a checkpoint without the schedule does not resume into a run with one");
}

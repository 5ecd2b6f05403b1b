//! A short run of the readers' mutation fuzzer (src/fuzz.rs) in every test run; the long one is
//! `cargo run --release --example fuzz_readers -- --cases 100000`.

#[test]
fn readers_never_panic_on_mutated_files() {
    let dir = std::env::temp_dir().join(format!("wgpu-gan-fuzz-{}", std::process::id()));
    std::panic::set_hook(Box::new(|_| {}));
    let idx = wgpu_gan::fuzz::idx(3000, 11, &dir.join("idx"));
    let ck = wgpu_gan::fuzz::checkpoints(3000, 12, &dir.join("checkpoint"));
    let img = wgpu_gan::fuzz::images(3000, 13, &dir.join("images"));
    let _ = std::panic::take_hook();
    println!("IDX: {idx:?}");
    println!("checkpoint: {ck:?}");
    println!("image folder (PNG, JPEG): {img:?}");
    let _ = std::fs::remove_dir_all(&dir);
    for r in [&idx, &ck, &img] {
        assert!(r.panics.is_empty(), "{:?}", r.panics);
        assert_eq!(r.cases, 3000);
        // The mutations must both break files and sometimes leave them readable.
        assert!(r.refused > 100, "{r:?}");
    }
    assert!(idx.accepted > 0 && img.accepted > 0, "{idx:?} {img:?}");
}

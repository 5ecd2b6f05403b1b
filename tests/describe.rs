//! Versioned model descriptions: every model round-trips through its JSON description, and a
//! description that differs is reported field by field.

use wgpu_gan::nn::describe::{check_saved, compare, FORMAT, VERSION};
use wgpu_gan::nn::{Act, BnSpec, ConvSpec, Layer, Linear, NetSpec};

fn models() -> Vec<(&'static str, NetSpec)> {
    let (g, d) = (wgpu_gan::models::r2_generator(100), wgpu_gan::models::r2_discriminator());
    vec![
        ("R2 generator", g),
        ("R2 discriminator", d),
        ("LeNet classifier", wgpu_gan::models::lenet()),
        ("R1 MLP", NetSpec::mlp(&[2, 128, 128, 1], Act::LeakyRelu(0.2), Some(Act::Sigmoid))),
        (
            "bias-free DCGAN-style",
            NetSpec {
                layers: vec![
                    Layer::Linear(Linear { inp: 10, out: 32, bias: false }),
                    Layer::BatchNorm(BnSpec { c: 2, hw: 16, eps: 1e-3, momentum: 0.2 }),
                    Layer::Act(Act::Relu),
                    Layer::ConvT2d(ConvSpec { out_pad: [1, 0], stride: [2, 1], dilation: [1, 2], pad: [1, 0], kw: 2, ..ConvSpec::new(2, 3, 4, 4, 3, 2, 1).no_bias() }),
                    Layer::Act(Act::Tanh),
                ],
            },
        ),
    ]
}

#[test]
fn every_model_round_trips_through_its_description() {
    for (name, spec) in models() {
        let v = spec.describe();
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["version"], VERSION);
        let text = v.to_string();
        let back = NetSpec::from_description(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, spec, "{name}: {text}");
        check_saved(name, &text, &spec).unwrap();
        println!("{name}: {} layers, {} bytes of JSON", spec.layers.len(), text.len());
    }
}

#[test]
fn a_different_model_is_reported_field_by_field() {
    let g = wgpu_gan::models::r2_generator(100);
    let mut other = g.clone();
    if let Layer::ConvT2d(c) = &mut other.layers[4] {
        c.kh = 3;
        c.bias = false;
    } else {
        panic!("R2's layer 4 is a ConvTranspose2d");
    }
    let err = compare("generator", &other.describe(), &g.describe()).unwrap_err().to_string();
    println!("{err}");
    assert!(err.contains("layer 4 (ConvTranspose2d): kernel_size is [3,4] in the checkpoint, [4,4] in this model"), "{err}");
    assert!(err.contains("layer 4 (ConvTranspose2d): bias is false in the checkpoint, true in this model"), "{err}");

    let shorter = NetSpec { layers: g.layers[..3].to_vec() };
    let err = compare("generator", &shorter.describe(), &g.describe()).unwrap_err().to_string();
    assert!(err.contains("3 layers in the checkpoint, 9 in this model"), "{err}");

    let err = check_saved("generator", "[Linear { inp: 100 }]", &g).unwrap_err().to_string();
    assert!(err.contains("no model description"), "{err}");
    let mut future = g.describe();
    future["version"] = 99.into();
    let err = compare("generator", &future, &g.describe()).unwrap_err().to_string();
    assert!(err.contains("version"), "{err}");
}

#[test]
fn a_malformed_description_names_the_layer_and_field() {
    let mut v = wgpu_gan::models::r2_discriminator().describe();
    v["layers"][0]["kernel_size"] = serde_json::json!([4]);
    let err = NetSpec::from_description(&v).unwrap_err().to_string();
    println!("{err}");
    assert!(err.contains("layer 0") && err.contains("kernel_size"), "{err}");
    v["layers"][0]["kernel_size"] = serde_json::json!([4, 4]);
    NetSpec::from_description(&v).expect("the description as written parses");
    // A field that this crate does not read is refused by name, not dropped: PyTorch's
    // padding_mode (a reflect-padded convolution would otherwise become a zero-padded one),
    // and a field that a layer ignores (a Flatten from the second dimension on).
    v["layers"][0]["padding_mode"] = "reflect".into();
    let err = NetSpec::from_description(&v).unwrap_err().to_string();
    assert!(err.contains("layer 0") && err.contains("\"padding_mode\" is not one this crate reads"), "{err}");
    v["layers"][0].as_object_mut().unwrap().remove("padding_mode");
    let flat = v["layers"].as_array().unwrap().iter().position(|l| l["kind"] == "Flatten").expect("R2's D flattens");
    v["layers"][flat]["start_dim"] = 2.into();
    let err = NetSpec::from_description(&v).unwrap_err().to_string();
    assert!(err.contains(&format!("layer {flat}")) && err.contains("\"start_dim\" is 2"), "{err}");
    v["layers"][flat]["start_dim"] = 1.into();
    // Fields that only repeat what the layer reads (its defaults) are fine; numbers compare as
    // the f32 values they become.
    let bn = v["layers"].as_array().unwrap().iter().position(|l| l["kind"].as_str().is_some_and(|k| k.starts_with("BatchNorm"))).expect("R2's D has batch norm");
    v["layers"][bn]["eps"] = serde_json::json!(1e-5f32 as f64);
    NetSpec::from_description(&v).expect("a description with the layer's own values parses");
    // A batch norm's kind follows its positions per channel (1: BatchNorm1d).
    let kind = v["layers"][bn]["kind"].as_str().unwrap().to_string();
    v["layers"][bn]["kind"] = if kind == "BatchNorm2d" { "BatchNorm1d" } else { "BatchNorm2d" }.into();
    let err = NetSpec::from_description(&v).unwrap_err().to_string();
    assert!(err.contains(&format!("layer {bn}")) && err.contains(&format!("make a {kind}")), "{err}");
    v["layers"][bn]["kind"] = kind.into();
    v["layers"][0]["kind"] = "Conv3d".into();
    let err = NetSpec::from_description(&v).unwrap_err().to_string();
    assert!(err.contains("unknown layer kind \"Conv3d\""), "{err}");
}

//! The parsers fuzzed, one [`Target`] each: what its seed inputs are and how an input reaches
//! the parser (as text, or as the file the tool would read, written into a scratch folder).
//! An input may be rejected with an error; it must never panic or allocate without bound.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use proxyless_data::Split;
use proxyless_latency::{CostModel, LatencyTable};
use proxyless_nn::ProxylessNet;
use proxyless_search::{SearchConfig, SearchState};
use proxyless_space::{Architecture, NetSpec, SearchSpace, TreeNetConfig, TreeSpace, presets};
use proxyless_train::{TrainConfig, TrainState};

/// A parser under test.
pub struct Target {
    /// Its name on the command line (`--only`).
    pub name: &'static str,
    /// Whether its input is text (token mutations apply).
    pub text: bool,
    /// Valid inputs to mutate.
    pub seeds: fn(&Scratch) -> Vec<Vec<u8>>,
    /// Feeds one input to the parser; `true` when it was accepted.
    pub run: fn(&Scratch, &[u8]) -> bool,
}

/// A scratch folder of the fuzzing process for the file formats, and what the targets share.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A scratch folder inside `dir` (created).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// `bytes` written to `relative` inside the scratch folder (folders created); its path.
    fn file(&self, relative: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the scratch folder is writable");
        }
        std::fs::write(&path, bytes).expect("the scratch folder is writable");
        path
    }
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

fn fmnist() -> &'static SearchSpace {
    static SPACE: OnceLock<SearchSpace> = OnceLock::new();
    SPACE.get_or_init(|| presets::load("fmnist").expect("the fmnist preset"))
}

/// The network whose weights the checkpoint targets load: the fmnist space's narrowest.
fn small_net() -> &'static (NetSpec, ProxylessNet) {
    static NET: OnceLock<(NetSpec, ProxylessNet)> = OnceLock::new();
    NET.get_or_init(|| {
        let space = fmnist();
        let arch = Architecture::parse(
            "k3e3 zero | k3e3 zero zero | k3e3 zero zero | k3e3",
            space,
            "seed",
        )
        .expect("a valid architecture");
        let spec = arch.to_net_spec(space);
        let net = ProxylessNet::new(&spec, &Device::flex());
        (spec, net)
    })
}

fn seeds_of(texts: &[&str]) -> Vec<Vec<u8>> {
    texts.iter().map(|t| t.as_bytes().to_vec()).collect()
}

/// An idx file: the magic, the dimensions, then the bytes.
fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

fn idx_images() -> Vec<u8> {
    let pixels: Vec<u8> = (0..2 * 28 * 28).map(|i| (i * 7 % 256) as u8).collect();
    idx(0x0803, &[2, 28, 28], &pixels)
}

fn idx_labels() -> Vec<u8> {
    idx(0x0801, &[2], &[3, 7])
}

/// The idx loader on the pair `images`, `labels` written into the scratch folder.
fn load_idx(s: &Scratch, images: &[u8], labels: &[u8]) -> bool {
    s.file("idx/train-images-idx3-ubyte", images);
    s.file("idx/train-labels-idx1-ubyte", labels);
    proxyless_data::idx::load(&s.dir.join("idx"), Split::Train, "input").is_ok()
}

/// What the image-folder stream does to one `.EXT` file holding `data`: decode it, then the
/// test-time crop and a training crop (RandomResizedCrop) resampled to 16 pixels.
fn load_image(s: &Scratch, ext: &str, data: &[u8]) -> bool {
    use proxyless_data::transform::{RandomResizedCrop, centre_crop, resize_crop};
    use rand::SeedableRng;
    let path = format!("{ext}/x.{ext}");
    s.file(&path, data);
    let Ok(image) = proxyless_data::stream::decode(&s.dir.join(&path), 3) else {
        return false;
    };
    let mut resizer = fast_image_resize::Resizer::new();
    let test = centre_crop(image.width, image.height, 16, 0.875);
    let mut rng = rand::rngs::StdRng::seed_from_u64(data.len() as u64);
    let train = RandomResizedCrop::default().params(image.width, image.height, &mut rng);
    let sizes = [test, train].map(|crop| resize_crop(&mut resizer, &image, crop, 16).data.len());
    sizes == [16 * 16 * 3; 2]
}

fn image_bytes(format: image::ImageFormat) -> Vec<Vec<u8>> {
    [(20, 12), (1, 1), (7, 40)]
        .into_iter()
        .map(|(w, h)| {
            let img =
                image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8 * 9, y as u8 * 5, 77]));
            let mut bytes = std::io::Cursor::new(Vec::new());
            img.write_to(&mut bytes, format).expect("an image encodes");
            bytes.into_inner()
        })
        .collect()
}

/// Every parser of a file the tool reads.
pub fn all() -> Vec<Target> {
    vec![
        Target {
            name: "space-toml",
            text: true,
            seeds: |_| {
                seeds_of(&[
                    include_str!("../../space/presets/fmnist.toml"),
                    include_str!("../../space/presets/imagenet.toml"),
                    include_str!("../../space/presets/cifar10.toml"),
                ])
            },
            run: |_, data| match SearchSpace::from_toml_str(&text(data), "input") {
                Ok(space) => {
                    let _ = CostModel::Macs.candidate_costs(&space);
                    true
                }
                Err(_) => false,
            },
        },
        Target {
            name: "search-config",
            text: true,
            seeds: |_| {
                seeds_of(&[
                    include_str!("../../search/presets/fmnist.toml"),
                    include_str!("../../../configs/search/fmnist-software-gpu.toml"),
                ])
            },
            run: |_, data| SearchConfig::from_toml_str(&text(data), "input").is_ok(),
        },
        Target {
            name: "train-config",
            text: true,
            seeds: |_| seeds_of(&[include_str!("../../train/presets/fmnist.toml")]),
            run: |_, data| TrainConfig::from_toml_str(&text(data), "input").is_ok(),
        },
        Target {
            name: "net-config",
            text: true,
            seeds: |_| {
                seeds_of(&[
                    include_str!("../../../configs/nets/proxyless_cpu.json"),
                    include_str!("../../../configs/nets/proxyless_mobile.json"),
                ])
            },
            run: |_, data| match NetSpec::from_net_config_str(&text(data), "input") {
                Ok(spec) => {
                    let _ = spec.cost(224);
                    true
                }
                Err(_) => false,
            },
        },
        Target {
            name: "tree-net-config",
            text: true,
            // The released CIFAR net cut to its stem, first cell and head (the whole one is 1 MB).
            seeds: |_| seeds_of(&[include_str!("../seeds/tree-net.json")]),
            run: |_, data| match TreeNetConfig::from_json_str(&text(data), "input") {
                Ok(net) => {
                    let _ = net.cost(32, "input");
                    true
                }
                Err(_) => false,
            },
        },
        Target {
            name: "tree-space",
            text: true,
            seeds: |_| {
                seeds_of(&[
                    include_str!("../../space/presets/cifar-tree-compact.toml"),
                    include_str!("../../space/presets/cifar-tree.toml"),
                ])
            },
            run: |_, data| match TreeSpace::from_toml_str(&text(data), "input") {
                Ok(space) => {
                    let summary = space.summary();
                    let cheapest = space.candidate_costs().cheapest();
                    let _ = space.net_config(&cheapest, "input");
                    summary.searched_edges > 0
                }
                Err(_) => false,
            },
        },
        Target {
            name: "architecture-text",
            text: true,
            seeds: |_| {
                seeds_of(&[
                    "k3e3 zero | k5e3 zero zero | k7e6 k5e3 k3e6 | k7e3\n",
                    "k7e6 k7e6 | k7e6 k7e6 k7e6 | k7e6 k7e6 k7e6 | k7e6",
                ])
            },
            run: |_, data| Architecture::parse(&text(data), fmnist(), "input").is_ok(),
        },
        Target {
            name: "architecture-json",
            text: true,
            seeds: |_| {
                let arch = Architecture::widest(fmnist());
                vec![arch.to_json(fmnist()).into_bytes()]
            },
            run: |_, data| Architecture::from_json_str(&text(data), fmnist(), "input").is_ok(),
        },
        Target {
            name: "latency-yaml",
            text: true,
            seeds: |_| {
                seeds_of(&[
                    include_str!("../../latency/tables/pixel1.yaml"),
                    include_str!("../../../configs/latency/fmnist-flex-b16.yaml"),
                ])
            },
            run: |_, data| match LatencyTable::from_yaml_str(&text(data), "input") {
                Ok(table) => {
                    let _ = CostModel::Table(table).candidate_costs(fmnist());
                    true
                }
                Err(_) => false,
            },
        },
        Target {
            name: "idx-images",
            text: false,
            seeds: |_| vec![idx_images()],
            run: |s, data| load_idx(s, data, &idx_labels()),
        },
        Target {
            name: "idx-labels",
            text: false,
            seeds: |_| vec![idx_labels()],
            run: |s, data| load_idx(s, &idx_images(), data),
        },
        Target {
            name: "cifar10",
            text: false,
            seeds: |_| {
                let record = |label: u8| {
                    let mut r = vec![label];
                    r.extend((0..3072).map(|i| (i % 251) as u8));
                    r
                };
                vec![[record(3), record(9)].concat()]
            },
            run: |s, data| {
                let file = s.file("cifar/test_batch.bin", data);
                proxyless_data::cifar::load(file.parent().unwrap(), Split::Test).is_ok()
            },
        },
        Target {
            name: "image-png",
            text: false,
            seeds: |_| image_bytes(image::ImageFormat::Png),
            run: |s, data| load_image(s, "png", data),
        },
        Target {
            name: "image-jpeg",
            text: false,
            seeds: |_| image_bytes(image::ImageFormat::Jpeg),
            run: |s, data| load_image(s, "jpg", data),
        },
        Target {
            name: "safetensors",
            text: false,
            seeds: |s| {
                let sd =
                    proxyless_pytorch::StateDict::from_net(&small_net().1).expect("a state dict");
                let path = s.dir.join("seed.safetensors");
                proxyless_pytorch::write_safetensors(&path, &sd).expect("written");
                vec![std::fs::read(path).expect("read back")]
            },
            run: |s, data| {
                let file = s.file("model.safetensors", data);
                match proxyless_pytorch::read_safetensors(&file) {
                    Ok(sd) => sd.load_into(small_net().1.clone(), "input").is_ok(),
                    Err(_) => false,
                }
            },
        },
        Target {
            name: "pth",
            text: false,
            seeds: |_| vec![include_bytes!("../seeds/tiny.pth").to_vec()],
            run: |s, data| {
                let file = s.file("model.pth", data);
                proxyless_pytorch::read_pth(&file).is_ok()
            },
        },
        Target {
            name: "onnx",
            text: false,
            seeds: |_| {
                let (spec, net) = small_net();
                let sd = proxyless_pytorch::StateDict::from_net(net).expect("a state dict");
                let options = proxyless_onnx::OnnxOptions::new(28);
                let model = proxyless_onnx::to_onnx(spec, &sd, &options).expect("a model");
                vec![prost::Message::encode_to_vec(&model)]
            },
            run: |s, data| {
                let file = s.file("model.onnx", data);
                proxyless_onnx::read(&file).is_ok()
            },
        },
        Target {
            name: "search-state",
            text: true,
            seeds: |_| vec![include_bytes!("../seeds/search-state.json").to_vec()],
            run: |_, data| serde_json::from_str::<SearchState>(&text(data)).is_ok(),
        },
        Target {
            name: "train-state",
            text: true,
            seeds: |_| vec![include_bytes!("../seeds/train-state.json").to_vec()],
            run: |_, data| serde_json::from_str::<TrainState>(&text(data)).is_ok(),
        },
        Target {
            name: "checkpoint-weights",
            text: false,
            seeds: |_| {
                let record = small_net().1.clone().into_record();
                vec![record.into_bytes().expect("a record serialises").to_vec()]
            },
            run: |_, data| {
                let bytes = burn::tensor::Bytes::from_bytes_vec(data.to_vec());
                match ModuleRecord::from_bytes(bytes) {
                    Ok(record) => small_net().1.clone().try_load_record(record).is_ok(),
                    Err(_) => false,
                }
            },
        },
    ]
}

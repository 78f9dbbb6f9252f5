//! Backend parity: the same supernet weights, batch and sampled paths on two devices, and how
//! far apart their logits, loss, weight gradients, architecture gradients, optimiser step and
//! inference logits end up.
//!
//! Paths are sampled on the host from a seeded generator, so every backend runs the same
//! paths for the same seed; the weights are initialised once on the reference device and
//! copied, so backends with their own random generators still start from the same network.
//! Dropout is off (its masks come from the backend's generator).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::DropoutConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use proxyless_space::SearchSpace;
use proxyless_supernet::gradient::arch_step_grads;
use proxyless_supernet::{AdamSettings, ArchMode, ArchParams, Paths, Searchable, Supernet};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use proxyless_nn::step::cross_entropy;
use proxyless_supernet::steps::weight_step;

/// What [`compare_backends`] runs.
#[derive(Debug, Clone)]
pub struct ParitySettings {
    /// Images in the batch.
    pub batch: usize,
    /// Seed of the input, the labels, α and the sampled paths.
    pub seed: u64,
    /// Largest accepted `‖reference − candidate‖₂ / ‖reference‖₂` of forward values (logits,
    /// loss).
    pub forward_tolerance: f64,
    /// The same for gradients and the optimiser step. Gradients through training-mode
    /// BatchNorm at initialisation are sums of nearly cancelling terms: between flex and
    /// ndarray they differ by up to about 2% on some seeds while forward values agree to 10⁻⁵,
    /// so the default is 5%; a wrong kernel differs by far more.
    pub gradient_tolerance: f64,
}

/// The forward tolerance for a backend that computes f32 matrix products on TF32 tensor cores
/// (CubeCL's CUDA matmul does where the GPU has them, as PyTorch's cuDNN convolutions do by
/// default): TF32 keeps 10 of f32's 23 mantissa bits, so each rounded input is off by up to
/// u = 2⁻¹¹ ≈ 4.9·10⁻⁴ relative, a product by up to 2u ≈ 10⁻³, and sums of many such products
/// with f32 accumulation stay below that in relative L2. Measured on an H200: logits 2.6·10⁻⁴
/// and 3.0·10⁻⁴ from flex on the `fmnist` and `cifar10` spaces.
pub const TF32_FORWARD_TOLERANCE: f64 = 1e-3;

impl Default for ParitySettings {
    fn default() -> Self {
        Self {
            batch: 8,
            seed: 0,
            forward_tolerance: 1e-4,
            gradient_tolerance: 5e-2,
        }
    }
}

/// One compared quantity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParityCheck {
    /// What was compared.
    pub name: String,
    /// Where the largest difference is (a parameter path, or the quantity itself).
    pub worst: String,
    /// The largest absolute difference.
    pub max_abs_diff: f64,
    /// `‖reference − candidate‖₂ / ‖reference‖₂`.
    pub relative_diff: f64,
    /// The same difference between the reference and itself on images perturbed by one part
    /// in 10⁶: how sensitive the quantity is to f32 rounding.
    pub noise_floor: f64,
    /// The accepted relative difference, unless ten times the noise floor is larger.
    pub tolerance: f64,
    /// Whether `relative_diff <= max(tolerance, 10 · noise_floor)`.
    pub passed: bool,
}

/// Every check of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParityReport {
    /// The reference device.
    pub reference: String,
    /// The compared device.
    pub candidate: String,
    /// The single path of the weight step (one candidate per choice block).
    pub path: Vec<usize>,
    /// The checks, in the order they ran.
    pub checks: Vec<ParityCheck>,
}

impl ParityReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// A human-readable table.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "parity of {} against {} (path {:?})\n{:<26} {:>10} {:>10} {:>10} {:>9}  {}\n",
            self.candidate,
            self.reference,
            self.path,
            "check",
            "max |diff|",
            "rel. L2",
            "noise",
            "tolerance",
            "largest diff at"
        );
        for c in &self.checks {
            out.push_str(&format!(
                "{:<26} {:>10.2e} {:>10.2e} {:>10.2e} {:>9.0e}  {}{}\n",
                c.name,
                c.max_abs_diff,
                c.relative_diff,
                c.noise_floor,
                c.tolerance,
                c.worst,
                if c.passed { "" } else { "   FAILED" }
            ));
        }
        out
    }
}

/// Named host values of one quantity: a list of (name, values).
type Named = Vec<(String, Vec<f64>)>;

/// Picks one compared quantity out of an [`Outcome`].
type Quantity = fn(&Outcome) -> &Named;

/// What one device computed.
struct Outcome {
    logits: Named,
    loss: Named,
    weight_grads: Named,
    gates_two: Named,
    alpha_two: Named,
    gates_full_v2: Named,
    alpha_full_v2: Named,
    stepped_weights: Named,
    inference_logits: Named,
}

/// Runs the same supernet of `space` on `reference` and `candidate` (inference devices; the
/// comparison uses their autodiff versions) and compares every step of a search.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use proxyless_bench::parity::{ParitySettings, compare_backends};
/// use proxyless_space::SearchSpace;
///
/// let space = SearchSpace::from_toml_str(
///     r#"
///     name = "doc"
///     classes = 3
///     [input]
///     channels = 1
///     resolution = 8
///     [stem]
///     channels = 4
///     stride = 2
///     [first_block]
///     channels = 4
///     [[stages]]
///     width = 4
///     depth = 1
///     stride = 1
///     [candidates]
///     ops = ["k3e1"]
///     zero = "where-identity"
///     [head]
///     feature_mix_channels = 8
///     "#,
///     "doc.toml",
/// )
/// .unwrap();
/// let device = Device::default();
/// let report = compare_backends(&space, &device, &device, &ParitySettings::default());
/// assert!(report.passed(), "{}", report.to_table());
/// ```
pub fn compare_backends(
    space: &SearchSpace,
    reference: &Device,
    candidate: &Device,
    settings: &ParitySettings,
) -> ParityReport {
    let reference_autodiff = reference.clone().autodiff();
    reference_autodiff.seed(settings.seed);
    let reference_model = Supernet::new(space, &reference_autodiff);
    let weights = float_params(&reference_model);
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let arch = ArchParams::new(
        reference_model.zero_candidates(),
        1.0,
        AdamSettings::default(),
        &mut rng,
    );
    let path = arch.sample_paths(&mut rng);
    let two = arch.sample_arch(ArchMode::Two, &mut rng);
    let full_v2 = arch.sample_arch(ArchMode::FullV2, &mut rng);
    let (images, labels) = batch(space, settings.batch, &mut rng);
    let inputs = Inputs {
        space,
        weights: &weights,
        arch: &arch,
        path: &path,
        two: &two,
        full_v2: &full_v2,
        images: &images,
        labels: &labels,
    };
    let a = run_on(reference, &inputs);
    let b = run_on(candidate, &inputs);
    // The noise floor: the reference against itself on images perturbed by one part in 10⁶,
    // about what reordering an f32 reduction does. Quantities that are sums of nearly
    // cancelling terms (gradients through training-mode BatchNorm, gate gradients of blocks
    // whose output feeds a BatchNorm) move by far more than 10⁻⁶ under it.
    let perturbed_images = perturb(&images, NOISE_PERTURBATION);
    let c = run_on(
        reference,
        &Inputs {
            images: &perturbed_images,
            ..inputs
        },
    );

    let (f, g) = (settings.forward_tolerance, settings.gradient_tolerance);
    let quantities: [(&str, Quantity, f64); 9] = [
        ("logits (training BN)", |o| &o.logits, f),
        ("loss", |o| &o.loss, f),
        ("weight gradients", |o| &o.weight_grads, g),
        ("gate gradients (two)", |o| &o.gates_two, g),
        ("alpha gradients (two)", |o| &o.alpha_two, g),
        ("gate gradients (full_v2)", |o| &o.gates_full_v2, g),
        ("alpha gradients (full_v2)", |o| &o.alpha_full_v2, g),
        ("weights after SGD step", |o| &o.stepped_weights, g),
        ("logits (inference BN)", |o| &o.inference_logits, g),
    ];
    let checks = quantities
        .iter()
        .map(|&(name, get, tolerance)| {
            let noise = relative_l2(get(&a), get(&c));
            compare(name, get(&a), get(&b), tolerance, noise)
        })
        .collect();
    ParityReport {
        reference: format!("{reference:?}"),
        candidate: format!("{candidate:?}"),
        path,
        checks,
    }
}

/// Everything both devices share.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    space: &'a SearchSpace,
    weights: &'a [TensorData],
    arch: &'a ArchParams,
    path: &'a [usize],
    two: &'a [proxyless_supernet::BlockPath],
    full_v2: &'a [proxyless_supernet::BlockPath],
    images: &'a TensorData,
    labels: &'a TensorData,
}

/// The relative perturbation of the images that measures the noise floor.
const NOISE_PERTURBATION: f64 = 1e-6;

/// How many times the noise floor a backend may differ by, where that exceeds the tolerance.
const NOISE_FACTOR: f64 = 10.0;

/// `values · (1 + ε)`.
fn perturb(data: &TensorData, epsilon: f64) -> TensorData {
    let values: Vec<f32> = data
        .iter::<f64>()
        .map(|v| (v * (1.0 + epsilon)) as f32)
        .collect();
    TensorData::new(values, data.shape().clone())
}

/// A batch of standard-normal images and labels cycling through the classes.
fn batch(space: &SearchSpace, n: usize, rng: &mut StdRng) -> (TensorData, TensorData) {
    use rand::RngExt;
    let shape = [
        n,
        space.input.channels,
        space.input.resolution,
        space.input.resolution,
    ];
    let values: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| {
            // Box-Muller: the same numbers on every platform.
            let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random::<f64>());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect();
    let labels: Vec<i64> = (0..n).map(|i| (i % space.classes) as i64).collect();
    (TensorData::new(values, shape), TensorData::new(labels, [n]))
}

/// The supernet of the inputs on `device` (autodiff), with the reference weights, dropout off.
fn model_on(inputs: &Inputs, device: &Device) -> Supernet {
    let mut model = Supernet::new(inputs.space, device);
    model.dropout = DropoutConfig::new(0.0).init();
    let mut setter = SetWeights {
        values: inputs.weights.iter(),
        device: device.clone(),
    };
    model.map(&mut setter)
}

fn tensors(inputs: &Inputs, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    (
        Tensor::from_data(inputs.images.clone(), device),
        Tensor::from_data(inputs.labels.clone(), device),
    )
}

fn run_on(device: &Device, inputs: &Inputs) -> Outcome {
    let device = device.clone().autodiff();

    // Forward and backward along one path, in training mode.
    let model = model_on(inputs, &device);
    let (x, y) = tensors(inputs, &device);
    let logits = model.forward_paths(x, &Paths::single(inputs.path));
    let loss = cross_entropy(logits.clone(), y, 0.0);
    let grads = loss.backward();
    let mut grad_reader = ReadParams {
        prefix: Vec::new(),
        grads: Some(&grads),
        out: Vec::new(),
    };
    model.visit(&mut grad_reader);
    let weight_grads = grad_reader.out;
    let logits = vec![("logits".to_string(), values(logits))];
    let loss = vec![("loss".to_string(), values(loss))];

    // Architecture steps: gate and α gradients in modes two and full_v2.
    let (gates_two, alpha_two) = arch_gradients(inputs, &device, inputs.two, ArchMode::Two);
    let (gates_full_v2, alpha_full_v2) =
        arch_gradients(inputs, &device, inputs.full_v2, ArchMode::FullV2);

    // One SGD step (Nesterov momentum, weight decay), then inference with running statistics.
    let model = model_on(inputs, &device);
    let mut optim = proxyless_search::config::WeightsConfig::default().optimizer();
    let (model, _) = weight_step(
        model,
        &mut optim,
        0.1,
        inputs.path,
        tensors(inputs, &device),
        0.1,
    );
    let mut reader = ReadParams {
        prefix: Vec::new(),
        grads: None,
        out: Vec::new(),
    };
    model.visit(&mut reader);
    let stepped_weights = reader.out;
    let inference = model.valid();
    let (x, _) = tensors(inputs, &device.clone().inner());
    let inference_logits = vec![(
        "logits".to_string(),
        values(inference.forward_paths(x, &Paths::single(inputs.path))),
    )];

    Outcome {
        logits,
        loss,
        weight_grads,
        gates_two,
        alpha_two,
        gates_full_v2,
        alpha_full_v2,
        stepped_weights,
        inference_logits,
    }
}

fn arch_gradients(
    inputs: &Inputs,
    device: &Device,
    sampled: &[proxyless_supernet::BlockPath],
    mode: ArchMode,
) -> (Named, Named) {
    let model = model_on(inputs, device);
    let (x, y) = tensors(inputs, device);
    let paths = Paths::arch(sampled.to_vec(), mode);
    let loss = cross_entropy(model.forward_paths(x, &paths), y, 0.0);
    let grads = loss.backward();
    let gates = paths.gate_gradients(&grads);
    let alpha = arch_step_grads(inputs.arch, sampled, &gates, 1.0, None);
    let gates = gates
        .iter()
        .map(|g| (format!("block {}", g.block), g.grads.clone()))
        .collect();
    let alpha = alpha
        .into_iter()
        .enumerate()
        .filter_map(|(b, g)| g.map(|g| (format!("block {b}"), g)))
        .collect();
    (gates, alpha)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

/// Whether two sets of named values have the same names and lengths.
fn same_layout(a: &Named, b: &Named) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((na, a), (nb, b))| na == nb && a.len() == b.len())
}

/// `‖a − b‖₂ / ‖a‖₂` over all values (a norm, so that one ill-conditioned entry does not
/// dominate); infinite when the layouts differ or a value is not finite.
fn relative_l2(a: &Named, b: &Named) -> f64 {
    if !same_layout(a, b) {
        return f64::INFINITY;
    }
    let (mut diff_sq, mut ref_sq) = (0.0f64, 0.0f64);
    for ((_, a), (_, b)) in a.iter().zip(b) {
        for (x, y) in a.iter().zip(b) {
            diff_sq += (x - y) * (x - y);
            ref_sq += x * x;
        }
    }
    let relative = if ref_sq > 0.0 {
        (diff_sq / ref_sq).sqrt()
    } else {
        diff_sq.sqrt()
    };
    if relative.is_nan() {
        f64::INFINITY
    } else {
        relative
    }
}

/// Compares the candidate's values with the reference's: it passes when the relative L2
/// difference is within `tolerance`, or within [`NOISE_FACTOR`] times the `noise` floor.
fn compare(
    name: &str,
    reference: &Named,
    candidate: &Named,
    tolerance: f64,
    noise: f64,
) -> ParityCheck {
    let mut worst = (String::from("-"), 0.0f64);
    for ((label, a), (_, b)) in reference.iter().zip(candidate) {
        for (x, y) in a.iter().zip(b) {
            let diff = (x - y).abs();
            if diff > worst.1 || diff.is_nan() {
                worst = (
                    label.clone(),
                    if diff.is_nan() { f64::INFINITY } else { diff },
                );
            }
        }
    }
    if !same_layout(reference, candidate) {
        worst.0 = "layouts differ".into();
    }
    let relative = relative_l2(reference, candidate);
    let accepted = tolerance.max(NOISE_FACTOR * noise);
    ParityCheck {
        name: name.into(),
        worst: worst.0,
        max_abs_diff: worst.1,
        relative_diff: relative,
        noise_floor: noise,
        tolerance,
        passed: relative <= accepted,
    }
}

/// Every float parameter's value, in visiting order.
fn float_params(model: &Supernet) -> Vec<TensorData> {
    struct Collect(Vec<TensorData>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data());
        }
    }
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

/// Replaces every float parameter, in visiting order, by the given values.
struct SetWeights<'a, I: Iterator<Item = &'a TensorData>> {
    values: I,
    device: Device,
}

impl<'a, I: Iterator<Item = &'a TensorData>> ModuleMapper for SetWeights<'a, I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let data = self
            .values
            .next()
            .expect("both supernets of one space have the same parameters")
            .clone();
        let device = self.device.clone();
        param.map(|t| {
            let trainable = t.is_require_grad();
            let t = Tensor::from_data(data, &device);
            if trainable { t.require_grad() } else { t }
        })
    }
}

/// Reads every float parameter (or its gradient) by module path.
struct ReadParams<'g> {
    prefix: Vec<String>,
    grads: Option<&'g burn::tensor::Gradients>,
    out: Named,
}

impl ModuleVisitor for ReadParams<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.prefix.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.prefix.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let name = self.prefix.join(".");
        let value = match self.grads {
            Some(grads) => match param.val().grad(grads) {
                Some(g) => g,
                None => return,
            },
            None => param.val(),
        };
        self.out.push((name, values(value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(values: &[f64]) -> Named {
        vec![("w".into(), values.to_vec())]
    }

    #[test]
    fn relative_l2_is_the_norm_of_the_difference_over_the_norm() {
        let r = relative_l2(&named(&[3.0, 4.0]), &named(&[3.0, 4.5]));
        assert!((r - 0.1).abs() < 1e-12, "{r}");
        assert_eq!(
            relative_l2(&named(&[1.0]), &named(&[1.0, 2.0])),
            f64::INFINITY
        );
        assert_eq!(
            relative_l2(&named(&[1.0]), &named(&[f64::NAN])),
            f64::INFINITY
        );
    }

    #[test]
    fn a_difference_beyond_tolerance_and_noise_fails() {
        let (a, b) = (named(&[1.0, 2.0]), named(&[1.0, 2.2]));
        let check = compare("x", &a, &b, 1e-3, 0.0);
        assert!(!check.passed);
        assert_eq!(check.worst, "w");
        assert!((check.max_abs_diff - 0.2).abs() < 1e-12);
        // The same difference passes when the quantity is that sensitive to rounding.
        assert!(compare("x", &a, &b, 1e-3, 0.05).passed);
        assert!(compare("x", &a, &a, 0.0, 0.0).passed);
    }
}

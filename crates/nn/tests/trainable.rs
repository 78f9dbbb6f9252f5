//! Every trainable parameter of a freshly built network takes part in training: after one
//! backward pass each has a gradient (the classifier's bias once had none until the network
//! was saved and loaded again), and the running statistics have none.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use proxyless_nn::ProxylessNet;
use proxyless_space::{Architecture, presets};

struct Untrained<'a> {
    grads: &'a GradientsParams,
    path: Vec<String>,
    without: Vec<String>,
    with: usize,
}

impl ModuleVisitor for Untrained<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let running = self.path.last().is_some_and(|f| f.starts_with("running_"));
        let has = self.grads.get::<D>(param.id).is_some();
        match (running, has) {
            (false, true) => self.with += 1,
            (false, false) => self.without.push(self.path.join(".")),
            (true, true) => panic!("{} has a gradient", self.path.join(".")),
            (true, false) => {}
        }
    }
}

#[test]
fn every_trainable_parameter_of_a_new_network_gets_a_gradient() {
    let device = Device::default().autodiff();
    let space = presets::load("fmnist").unwrap();
    let spec = Architecture::widest(&space).to_net_spec(&space);
    let net = ProxylessNet::new(&spec, &device);
    let x = Tensor::<4>::ones([2, 1, 28, 28], &device);
    let grads = GradientsParams::from_grads(net.forward(x).sum().backward(), &net);
    let mut visitor = Untrained {
        grads: &grads,
        path: Vec::new(),
        without: Vec::new(),
        with: 0,
    };
    net.visit(&mut visitor);
    assert!(
        visitor.without.is_empty(),
        "no gradient: {:?}",
        visitor.without
    );
    assert!(visitor.with > 20, "{} parameters", visitor.with);
}

//! Without an adapter the backend says what to install, and never panics.
//! One test per binary: it changes the process environment.

use nnc_lower::backend::Backend;

#[test]
fn no_adapter_says_what_to_install() {
    // No adapter of a backend this build lacks (only Vulkan is compiled
    // in), so wgpu finds none on any machine.
    std::env::set_var("WGPU_BACKEND", "metal");
    let mut backend = nnc_gpu::GpuBackend::new();
    let error = backend.open().expect_err("no Metal adapter on this build");
    let text = error.to_string();
    assert!(text.contains("no GPU adapter found"), "{text}");
    assert!(text.contains("mesa-vulkan-drivers libvulkan1"), "{text}");
    assert!(text.contains("--backend jit"), "{text}");
    // Every call that needs the device reports the same, without a panic.
    let error = backend
        .set_params(vec![nnc_lower::backend::Tensor::zeros(vec![2])])
        .expect_err("no device");
    assert!(error.to_string().contains("no GPU adapter found"));

    // A name that matches no adapter lists the adapters there are.
    std::env::set_var("WGPU_BACKEND", "vulkan");
    std::env::set_var("WGPU_ADAPTER_NAME", "no such adapter 42");
    let error = nnc_gpu::Gpu::acquire().expect_err("no adapter has that name");
    let text = error.to_string();
    assert!(text.contains("no such adapter 42"), "{text}");
    assert!(text.contains("no GPU adapter found"), "{text}");
}

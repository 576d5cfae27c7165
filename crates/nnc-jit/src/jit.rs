//! Compiling kernels to machine code with cranelift-jit, and calling them
//! safely on slices.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

use crate::codegen::{host_has_fma, signature, translate};
use crate::error::JitError;
use crate::ir::{Access, Expr, Kernel, Stmt};

/// The host's instruction set with nnc's settings: optimise for speed,
/// verify the IR, absolute addressing (cranelift-jit does not support PIC).
pub(crate) fn host_isa() -> Result<OwnedTargetIsa, JitError> {
    let err = |e: &dyn std::fmt::Display| JitError::Codegen(e.to_string());
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").map_err(|e| err(&e))?;
    flags
        .set("use_colocated_libcalls", "false")
        .map_err(|e| err(&e))?;
    flags.set("is_pic", "false").map_err(|e| err(&e))?;
    // Cranelift's IR verifier checks every function it compiles: kept in
    // debug builds (every test), left out of release builds, where it
    // was a tenth of the compile time of an unrolled recurrence.
    let verify = if cfg!(debug_assertions) {
        "true"
    } else {
        "false"
    };
    flags.set("enable_verifier", verify).map_err(|e| err(&e))?;
    let isa = cranelift_native::builder().map_err(|e| err(&e))?;
    isa.finish(settings::Flags::new(flags)).map_err(|e| err(&e))
}

/// The Cranelift IR of `kernel` as text, exactly as it is handed to the
/// code generator (before Cranelift's own optimisations).
pub fn clif_text(kernel: &Kernel) -> Result<String, JitError> {
    let isa = host_isa()?;
    let mut func = translate(kernel, isa.as_ref(), host_has_fma(isa.as_ref()))?;
    func.name = UserFuncName::testcase(kernel.name.as_str());
    Ok(func.display().to_string())
}

/// The machine instructions Cranelift selects for `kernel` on this host
/// after register allocation (its "VCode" listing), for inspecting the
/// quality of generated code.
pub fn machine_text(kernel: &Kernel) -> Result<String, JitError> {
    let isa = host_isa()?;
    let mut ctx =
        Context::for_function(translate(kernel, isa.as_ref(), host_has_fma(isa.as_ref()))?);
    ctx.set_disasm(true);
    let code = ctx
        .compile(isa.as_ref(), &mut ControlPlane::default())
        .map_err(|e| JitError::Codegen(format!("{:?}", e.inner)))?;
    Ok(code.vcode.clone().unwrap_or_default())
}

/// Owns the executable memory of one or more compiled kernels.
struct Code {
    module: Option<JITModule>,
}

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: every function pointer into this module is held by a
            // `CompiledKernel` together with an `Rc<Code>`; the last of them
            // is being dropped, so no pointer into the memory survives.
            unsafe { module.free_memory() };
        }
    }
}

/// A kernel compiled to machine code, callable on slices.
pub struct CompiledKernel {
    kernel: Kernel,
    entry: unsafe extern "C" fn(*const *mut f32),
    code_size: usize,
    compile_time: Duration,
    /// One zero-initialised vector per [`Access::Scratch`] buffer, in
    /// declaration order.
    scratch: RefCell<Vec<Vec<f32>>>,
    /// The table of buffer pointers handed to the code, one per buffer in
    /// declaration order, allocated once here so that [`CompiledKernel::call`]
    /// allocates nothing. Each call overwrites every entry before the code
    /// runs and resets them to null pointers after it returns, so no stale
    /// pointer is ever read (an early error return may leave some entries
    /// set; the next call overwrites them all before use).
    table: RefCell<Vec<*mut f32>>,
    _code: Rc<Code>,
}

impl std::fmt::Debug for CompiledKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledKernel")
            .field("name", &self.kernel.name)
            .field("code_size", &self.code_size)
            .field("compile_time", &self.compile_time)
            .finish()
    }
}

/// Compiles one kernel.
pub fn compile(kernel: &Kernel) -> Result<CompiledKernel, JitError> {
    let mut all = compile_many(vec![kernel.clone()])?;
    all.pop()
        .ok_or_else(|| JitError::Codegen("no kernel compiled".into()))
}

/// Compiles several kernels into one JIT module (their code is finalized
/// together and freed when the last of them is dropped), returning them in
/// order. Each kernel is validated first; the first error is returned.
/// The compiled kernels keep the kernels given (no copy).
pub fn compile_many(kernels: Vec<Kernel>) -> Result<Vec<CompiledKernel>, JitError> {
    compile_with(kernels, None)
}

/// [`compile_many`], optionally overriding whether FMA is used (tests run
/// the multiply-then-add fallback on hosts that have FMA).
fn compile_with(
    kernels: Vec<Kernel>,
    use_fma: Option<bool>,
) -> Result<Vec<CompiledKernel>, JitError> {
    let err = |e: &dyn std::fmt::Display| JitError::Codegen(e.to_string());
    let isa = host_isa()?;
    let has_fma = use_fma.unwrap_or_else(|| host_has_fma(isa.as_ref()));
    let sig = signature(isa.as_ref());
    // The module lives in `Code` from the start, so that its memory is
    // freed on every path, errors included.
    let mut code = Code {
        module: Some(JITModule::new(JITBuilder::with_isa(
            isa.clone(),
            default_libcall_names(),
        ))),
    };
    let module = code
        .module
        .as_mut()
        .ok_or_else(|| JitError::Codegen("JIT module missing".into()))?;
    let mut ctx = Context::new();
    let mut pending: Vec<(cranelift_module::FuncId, usize, Duration)> =
        Vec::with_capacity(kernels.len());
    // Kernels of the same code (an unrolled recurrence repeats each step's
    // kernels over other buffers) are compiled once: the code reads its
    // buffers through the pointer table, so one entry serves them all.
    // Kernels are bucketed by their sizes, then compared field by field
    // (the name aside) with the distinct codes of their bucket.
    let mut compiled_as: HashMap<(usize, usize, u32, usize), Vec<usize>> = HashMap::new();
    for (n, kernel) in kernels.iter().enumerate() {
        let bucket = compiled_as
            .entry((
                kernel.buffers.len(),
                kernel.vars.len(),
                kernel.loop_vars,
                kernel.body.len(),
            ))
            .or_default();
        let same = bucket.iter().copied().find(|&first| {
            let other = &kernels[first];
            other.buffers == kernel.buffers
                && other.vars == kernel.vars
                && other.body == kernel.body
                && constant_bits(&other.body) == constant_bits(&kernel.body)
        });
        if let Some(first) = same {
            let (id, code_size, _) = pending[first];
            pending.push((id, code_size, Duration::ZERO));
            continue;
        }
        bucket.push(n);
        let started = Instant::now();
        let symbol = format!("nnc_{}_{n}", kernel.name);
        let id = module
            .declare_function(&symbol, Linkage::Local, &sig)
            .map_err(|e| err(&e))?;
        ctx.func = translate(kernel, isa.as_ref(), has_fma)?;
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        module
            .define_function(id, &mut ctx)
            .map_err(|e| err(&format!("{e:?}")))?;
        let code_size = ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
        module.clear_context(&mut ctx);
        pending.push((id, code_size, started.elapsed()));
    }
    module.finalize_definitions().map_err(|e| err(&e))?;
    let entries: Vec<*const u8> = pending
        .iter()
        .map(|(id, _, _)| module.get_finalized_function(*id))
        .collect();
    let code = Rc::new(code);
    Ok(kernels
        .into_iter()
        .zip(pending)
        .zip(entries)
        .map(|((kernel, (_, code_size, compile_time)), ptr)| {
            // SAFETY: `ptr` is the finalized entry of a function generated
            // with `signature()`: one pointer argument, no result, the
            // platform's default calling convention, which is the C ABI.
            let entry = unsafe {
                std::mem::transmute::<*const u8, unsafe extern "C" fn(*const *mut f32)>(ptr)
            };
            let scratch = kernel
                .buffers
                .iter()
                .filter(|d| d.access == Access::Scratch)
                .map(|d| vec![0.0; d.len])
                .collect();
            let table = RefCell::new(vec![std::ptr::null_mut(); kernel.buffers.len()]);
            CompiledKernel {
                kernel,
                entry,
                code_size,
                compile_time,
                scratch: RefCell::new(scratch),
                table,
                _code: Rc::clone(&code),
            }
        })
        .collect())
}

/// The bits of every constant of `body`, in order: `==` on kernels holds
/// `0.0` and `-0.0` equal, and the code they make differs.
fn constant_bits(body: &[Stmt]) -> Vec<u32> {
    fn expr(e: &Expr, out: &mut Vec<u32>) {
        match e {
            Expr::Const(c) => out.push(c.to_bits()),
            Expr::Load { .. } | Expr::Var(_) => {}
            Expr::Splat(a) | Expr::Unary(_, a) | Expr::ReduceSum(a) => expr(a, out),
            Expr::Binary(_, a, b) => {
                expr(a, out);
                expr(b, out);
            }
            Expr::Fma(a, b, c) => {
                expr(a, out);
                expr(b, out);
                expr(c, out);
            }
            Expr::Select {
                lhs,
                rhs,
                then,
                otherwise,
                ..
            } => {
                for e in [lhs, rhs, then, otherwise] {
                    expr(e, out);
                }
            }
        }
    }
    fn stmts(body: &[Stmt], out: &mut Vec<u32>) {
        for s in body {
            match s {
                Stmt::Loop(l) => stmts(&l.body, out),
                Stmt::Assign { value, .. } | Stmt::Store { value, .. } => expr(value, out),
            }
        }
    }
    let mut out = Vec::new();
    stmts(body, &mut out);
    out
}

impl CompiledKernel {
    /// The kernel this code was generated from.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The size of the machine code in bytes.
    pub fn code_size(&self) -> usize {
        self.code_size
    }

    /// The time spent translating and compiling this kernel (excluding the
    /// shared setup of [`compile_many`]).
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// Runs the kernel. `inputs` are the kernel's [`Access::Read`] buffers
    /// and `outputs` its [`Access::Write`] buffers, each in declaration
    /// order; every slice must have exactly its buffer's declared length.
    /// [`Access::Scratch`] buffers are supplied by the kernel itself.
    pub fn call(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<(), JitError> {
        let decls = &self.kernel.buffers;
        let count = |a: Access| decls.iter().filter(|d| d.access == a).count();
        for (role, expected, found) in [
            ("inputs", count(Access::Read), inputs.len()),
            ("outputs", count(Access::Write), outputs.len()),
        ] {
            if expected != found {
                return Err(JitError::BufferCount {
                    kernel: self.kernel.name.clone(),
                    role,
                    expected,
                    found,
                });
            }
        }
        let mut table = self.table.borrow_mut();
        if table.len() != decls.len() {
            return Err(JitError::Codegen("pointer table out of step".into()));
        }
        let mut scratch = self.scratch.borrow_mut();
        let mut scratch = scratch.iter_mut();
        let (mut next_in, mut next_out) = (0, 0);
        for (slot, d) in table.iter_mut().zip(decls) {
            let (len, ptr) = match d.access {
                Access::Read => {
                    let s = inputs[next_in];
                    next_in += 1;
                    (s.len(), s.as_ptr() as *mut f32)
                }
                Access::Write => {
                    let s = &mut outputs[next_out];
                    next_out += 1;
                    (s.len(), s.as_mut_ptr())
                }
                Access::Scratch => match scratch.next() {
                    Some(s) => (s.len(), s.as_mut_ptr()),
                    None => return Err(JitError::Codegen("scratch buffers out of step".into())),
                },
            };
            if len != d.len {
                return Err(JitError::BufferLength {
                    kernel: self.kernel.name.clone(),
                    buffer: d.name.clone(),
                    expected: d.len,
                    found: len,
                });
            }
            *slot = ptr;
        }
        // SAFETY: the code was generated from `self.kernel`, which passed
        // `validate`: every load and store touches elements `0..len` of its
        // buffer only (static interval analysis over constant loop bounds),
        // and stores target `Write` buffers only. Each pointer in `table`
        // comes from a slice of exactly `len` elements borrowed for the whole
        // call (scratch vectors are owned by `self` and borrowed mutably
        // through the `RefCell` for the call, as is `table` itself);
        // `Write` buffers are exclusive borrows, so no two buffers a
        // store can reach overlap each other or any input, and inputs
        // (shared borrows of plain `f32`) cannot change during the call,
        // which justifies the `readonly` flag on their loads. The code
        // memory is kept alive by `self._code`. The function reads `table`
        // (`decls.len()` pointers) and nothing else of the caller's memory.
        unsafe { (self.entry)(table.as_ptr()) };
        table.fill(std::ptr::null_mut());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{elementwise, matmul, Activation, MatmulSpec, Operand};

    /// Kernels that differ by name alone share one compiled code; a
    /// constant `-0.0` where another has `0.0` (equal under `==`) makes
    /// other code, and each computes its own result.
    #[test]
    fn kernels_of_the_same_code_are_compiled_once() {
        let with = |name: &str, c: f32| {
            elementwise(name, 2, 4, &[Operand::Full], move |a, ty| {
                // `x / c`: infinities of opposite signs for the two zeros.
                Expr::div(a[0].clone(), Expr::constant(c, ty))
            })
        };
        let compiled = compile_many(vec![with("a", 0.0), with("b", 0.0), with("c", -0.0)]).unwrap();
        let entries: Vec<usize> = compiled.iter().map(|k| k.entry as usize).collect();
        assert_eq!(entries[0], entries[1]);
        assert_ne!(entries[0], entries[2]);
        assert_eq!(compiled[1].kernel().name, "b");
        let x = [1.0f32; 8];
        let run = |k: &CompiledKernel| {
            let mut y = [0.0f32; 8];
            k.call(&[&x], &mut [&mut y]).unwrap();
            y[0]
        };
        assert_eq!(run(&compiled[1]), f32::INFINITY);
        assert_eq!(run(&compiled[2]), f32::NEG_INFINITY);
    }

    /// The multiply-then-add fallback for hosts without FMA computes the
    /// same product to within rounding.
    #[test]
    fn matmul_without_fma_matches_with_fma() {
        let spec = MatmulSpec {
            m: 9,
            k: 37,
            n: 13,
            transpose_b: false,
            bias: true,
            activation: Activation::Tanh,
        };
        let kernel = matmul("mm", spec);
        let a: Vec<f32> = (0..9 * 37)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 10.0)
            .collect();
        let b: Vec<f32> = (0..37 * 13)
            .map(|i| ((i * 5 % 13) as f32 - 6.0) / 10.0)
            .collect();
        let bias: Vec<f32> = (0..13).map(|i| i as f32 / 20.0).collect();
        let mut outs = Vec::new();
        for use_fma in [false, true] {
            let f = compile_with(vec![kernel.clone()], Some(use_fma))
                .unwrap()
                .pop()
                .unwrap();
            let mut c = vec![0.0; 9 * 13];
            f.call(&[&a, &b, &bias], &mut [&mut c]).unwrap();
            outs.push(c);
        }
        for (x, y) in outs[0].iter().zip(&outs[1]) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
        let text = {
            let isa = host_isa().unwrap();
            translate(&kernel, isa.as_ref(), false)
                .unwrap()
                .display()
                .to_string()
        };
        assert!(!text.contains(" fma "), "the fallback emits no fma");
    }
}

//! The convolution and pooling kernels compiled and run against plain-Rust
//! references computed in f64 that follow the interpreter's loops
//! (`nnc-interp`'s `kernels/conv.rs` and `kernels/pool.rs`) line for line:
//! padding reads zero in a convolution and is never a value in a pooling.
//! Shapes cover stride 1 and 2, no, uneven and large padding (windows that
//! cover no pixel), several channels and filters, widths that are and are
//! not multiples of the vector width.

use nnc_jit::compile;
use nnc_jit::kernels::{
    channel_bias_add, channel_sum, conv2d, conv2d_input_grad, conv2d_weight_grad, pool, pool_grad,
    ConvSpec, PoolReduce, PoolSpec,
};

/// Deterministic data in `[-1, 1)`.
fn data(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// `|got - want| <= 1e-4 * (|want| + m / 100)` with `m` the largest
/// magnitude of `want`, as the backend agreement tests allow.
fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let m = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-4 * (w.abs() + m / 100.0) + 1e-30;
        assert!(
            (g as f64 - w).abs() <= tol,
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

/// The output length along an axis (floor rounding), as the shape rules
/// compute it.
fn out_len(len: usize, k: usize, stride: usize, pad: [usize; 2]) -> usize {
    (len + pad[0] + pad[1] - k) / stride + 1
}

fn conv_spec(
    bcwh: [usize; 4],
    filters: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 4],
) -> ConvSpec {
    let [batch, channels, height, width] = bcwh;
    ConvSpec {
        batch,
        channels,
        height,
        width,
        filters,
        kernel,
        out: [
            out_len(height, kernel[0], stride[0], [padding[0], padding[1]]),
            out_len(width, kernel[1], stride[1], [padding[2], padding[3]]),
        ],
        stride,
        padding,
    }
}

/// Calls `visit(x_index, w_index, y_index)` for every product of the
/// convolution that reads the input, in the interpreter's order.
fn products(s: &ConvSpec, mut visit: impl FnMut(usize, usize, usize)) {
    let source = |o: usize, k: usize, stride: usize, pad: usize, len: usize| {
        (o * stride + k).checked_sub(pad).filter(|&i| i < len)
    };
    for b in 0..s.batch {
        for f in 0..s.filters {
            for oy in 0..s.out[0] {
                for ox in 0..s.out[1] {
                    let yi = ((b * s.filters + f) * s.out[0] + oy) * s.out[1] + ox;
                    for c in 0..s.channels {
                        for ky in 0..s.kernel[0] {
                            let Some(iy) = source(oy, ky, s.stride[0], s.padding[0], s.height)
                            else {
                                continue;
                            };
                            for kx in 0..s.kernel[1] {
                                let Some(ix) = source(ox, kx, s.stride[1], s.padding[2], s.width)
                                else {
                                    continue;
                                };
                                let xi = ((b * s.channels + c) * s.height + iy) * s.width + ix;
                                let wi =
                                    ((f * s.channels + c) * s.kernel[0] + ky) * s.kernel[1] + kx;
                                visit(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn check_conv(s: ConvSpec) {
    let x_len = s.batch * s.channels * s.height * s.width;
    let w_len = s.filters * s.channels * s.kernel[0] * s.kernel[1];
    let y_len = s.batch * s.filters * s.out[0] * s.out[1];
    let (x, w, dy) = (data(x_len, 1), data(w_len, 2), data(y_len, 3));
    let (mut y, mut dx, mut dw) = (vec![0.0; y_len], vec![0.0; x_len], vec![0.0; w_len]);
    let (mut ry, mut rdx, mut rdw) = (vec![0.0f64; y_len], vec![0.0; x_len], vec![0.0; w_len]);
    products(&s, |xi, wi, yi| {
        ry[yi] += x[xi] as f64 * w[wi] as f64;
        rdx[xi] += dy[yi] as f64 * w[wi] as f64;
        rdw[wi] += dy[yi] as f64 * x[xi] as f64;
    });
    // Garbage in the outputs: every element must be written.
    y.fill(f32::NAN);
    dx.fill(f32::NAN);
    dw.fill(f32::NAN);
    let what = format!("{s:?}");
    compile(&conv2d("conv", s))
        .unwrap()
        .call(&[&x, &w], &mut [&mut y])
        .unwrap();
    assert_close(&format!("y {what}"), &y, &ry);
    compile(&conv2d_input_grad("dx", s))
        .unwrap()
        .call(&[&dy, &w], &mut [&mut dx])
        .unwrap();
    assert_close(&format!("dx {what}"), &dx, &rdx);
    compile(&conv2d_weight_grad("dw", s))
        .unwrap()
        .call(&[&x, &dy], &mut [&mut dw])
        .unwrap();
    assert_close(&format!("dw {what}"), &dw, &rdw);
}

#[test]
fn convolutions_match_the_reference() {
    check_conv(conv_spec([2, 1, 8, 8], 3, [3, 3], [1, 1], [0; 4]));
    check_conv(conv_spec([2, 3, 7, 9], 4, [3, 3], [1, 1], [1, 1, 1, 1]));
    check_conv(conv_spec([1, 2, 9, 11], 3, [3, 3], [2, 2], [1, 0, 1, 2]));
    check_conv(conv_spec([2, 1, 28, 28], 6, [5, 5], [1, 1], [2, 2, 2, 2]));
    check_conv(conv_spec([1, 2, 6, 13], 2, [3, 5], [2, 1], [0, 1, 2, 2]));
    // A kernel wider than the weight gradient's block of columns.
    check_conv(conv_spec([2, 2, 6, 15], 3, [2, 7], [1, 1], [1, 0, 3, 2]));
    check_conv(conv_spec([1, 1, 5, 17], 2, [1, 9], [1, 2], [0, 0, 0, 0]));
    // Padding wider than the kernel: border outputs read only padding.
    check_conv(conv_spec([1, 2, 5, 6], 2, [2, 2], [1, 1], [3, 3, 3, 3]));
}

/// The input range covered by output `i` along an axis (the interpreter's
/// `window_range`).
fn window(i: usize, size: usize, stride: usize, pad: usize, len: usize) -> (usize, usize) {
    let start = (i * stride) as isize - pad as isize;
    let clip = |v: isize| v.clamp(0, len as isize) as usize;
    (clip(start), clip(start + size as isize))
}

fn check_pool(s: PoolSpec, x: &[f32]) {
    let [h, w] = s.input;
    let [oh, ow] = s.out;
    let y_len = s.planes * oh * ow;
    let dy = data(y_len, 5);
    let mut ry = vec![0.0f64; y_len];
    let mut rdx = vec![0.0f64; x.len()];
    let mut windows = Vec::new();
    for p in 0..s.planes {
        for oy in 0..oh {
            let (r0, r1) = window(oy, s.size[0], s.stride[0], s.pad[0], h);
            for ox in 0..ow {
                let (c0, c1) = window(ox, s.size[1], s.stride[1], s.pad[1], w);
                let pixels: Vec<usize> = (r0..r1)
                    .flat_map(|r| (c0..c1).map(move |c| (p * h + r) * w + c))
                    .collect();
                windows.push(((p * oh + oy) * ow + ox, pixels));
            }
        }
    }
    for (yi, pixels) in &windows {
        let v = |i: &usize| x[*i] as f64;
        ry[*yi] = match s.reduce {
            PoolReduce::Max => {
                let mut best: Option<usize> = None;
                for &i in pixels {
                    if best.is_none_or(|b| x[i] > x[b]) {
                        best = Some(i);
                    }
                }
                if let Some(b) = best {
                    rdx[b] += dy[*yi] as f64;
                }
                best.map_or(0.0, |b| x[b] as f64)
            }
            PoolReduce::Average => {
                let share = dy[*yi] as f64 / pixels.len().max(1) as f64;
                pixels.iter().for_each(|&i| rdx[i] += share);
                if pixels.is_empty() {
                    0.0
                } else {
                    pixels.iter().map(v).sum::<f64>() / pixels.len() as f64
                }
            }
            PoolReduce::L2 => pixels.iter().map(|i| v(i) * v(i)).sum::<f64>().sqrt(),
        };
    }
    let mut y = vec![f32::NAN; y_len];
    compile(&pool("pool", s))
        .unwrap()
        .call(&[x], &mut [&mut y])
        .unwrap();
    assert_close(&format!("y {s:?}"), &y, &ry);
    if s.reduce == PoolReduce::L2 {
        for (yi, pixels) in &windows {
            if ry[*yi] > 0.0 {
                let factor = dy[*yi] as f64 / y[*yi] as f64;
                pixels.iter().for_each(|&i| rdx[i] += factor * x[i] as f64);
            }
        }
    }
    let mut dx = vec![f32::NAN; x.len()];
    compile(&pool_grad("pool_grad", s))
        .unwrap()
        .call(&[x, &y, &dy], &mut [&mut dx])
        .unwrap();
    assert_close(&format!("dx {s:?}"), &dx, &rdx);
}

#[test]
fn poolings_match_the_reference() {
    for reduce in [PoolReduce::Max, PoolReduce::Average, PoolReduce::L2] {
        let spec = |planes, input: [usize; 2], out, size, stride, pad| PoolSpec {
            reduce,
            planes,
            input,
            out,
            size,
            stride,
            pad,
        };
        let shapes = [
            spec(3, [8, 8], [4, 4], [2, 2], [2, 2], [0, 0]),
            // Overlapping windows, ceil rounding: the last window is clipped.
            spec(2, [7, 9], [3, 4], [3, 3], [2, 2], [0, 0]),
            // Padding on both sides, stride 1.
            spec(2, [5, 6], [6, 7], [2, 2], [1, 1], [1, 1]),
            // Windows lying entirely in the padding cover nothing.
            spec(1, [4, 5], [4, 5], [2, 2], [2, 2], [3, 3]),
            spec(2, [6, 7], [3, 2], [2, 3], [2, 3], [0, 1]),
        ];
        for s in shapes {
            let len = s.planes * s.input[0] * s.input[1];
            check_pool(s, &data(len, 4));
            // Ties: the gradient goes to the first maximum.
            let ties: Vec<f32> = data(len, 6).iter().map(|v| (v * 2.0).round()).collect();
            check_pool(s, &ties);
            // Negative values: padding is never a candidate maximum.
            let negative: Vec<f32> = data(len, 7).iter().map(|v| v.abs() - 2.0).collect();
            check_pool(s, &negative);
        }
    }
}

#[test]
fn channel_bias_and_its_sum_match_the_reference() {
    for (batch, channels, inner) in [(2, 3, 25), (3, 4, 8), (1, 2, 3), (4, 6, 196)] {
        let len = batch * channels * inner;
        let (x, bias) = (data(len, 8), data(channels, 9));
        let mut out = vec![f32::NAN; len];
        compile(&channel_bias_add("bias", batch, channels, inner))
            .unwrap()
            .call(&[&x, &bias], &mut [&mut out])
            .unwrap();
        let want: Vec<f64> = (0..len)
            .map(|i| x[i] as f64 + bias[i / inner % channels] as f64)
            .collect();
        assert_close("bias_add", &out, &want);
        let mut sums = vec![f32::NAN; channels];
        compile(&channel_sum("sum", batch, channels, inner))
            .unwrap()
            .call(&[&x], &mut [&mut sums])
            .unwrap();
        let mut want = vec![0.0f64; channels];
        for (i, &v) in x.iter().enumerate() {
            want[i / inner % channels] += v as f64;
        }
        assert_close("channel_sum", &sums, &want);
    }
}

/// Rough times of the convolution kernels on conv_20_40's layers (batch
/// 10); run with `--release -- --ignored --nocapture`.
#[test]
#[ignore]
fn convolution_kernel_times() {
    for s in [
        conv_spec([10, 1, 28, 28], 20, [5, 5], [1, 1], [0; 4]),
        conv_spec([10, 20, 12, 12], 40, [5, 5], [1, 1], [0; 4]),
    ] {
        let x_len = s.batch * s.channels * s.height * s.width;
        let w_len = s.filters * s.channels * s.kernel[0] * s.kernel[1];
        let y_len = s.batch * s.filters * s.out[0] * s.out[1];
        let (x, w, dy) = (data(x_len, 1), data(w_len, 2), data(y_len, 3));
        let (mut y, mut dx, mut dw) = (vec![0.0; y_len], vec![0.0; x_len], vec![0.0; w_len]);
        let macs = (y_len * s.channels * s.kernel[0] * s.kernel[1]) as f64;
        let time = |name: &str, f: &mut dyn FnMut()| {
            f();
            let start = std::time::Instant::now();
            for _ in 0..20 {
                f();
            }
            let t = start.elapsed().as_secs_f64() / 20.0;
            println!(
                "{name} {s:?}: {:.3} ms, {:.2} GMAC/s",
                t * 1e3,
                macs / t / 1e9
            );
        };
        let k = compile(&conv2d("conv", s)).unwrap();
        time("forward", &mut || k.call(&[&x, &w], &mut [&mut y]).unwrap());
        let k = compile(&conv2d_input_grad("dx", s)).unwrap();
        time("input grad", &mut || {
            k.call(&[&dy, &w], &mut [&mut dx]).unwrap()
        });
        let k = compile(&conv2d_weight_grad("dw", s)).unwrap();
        time("weight grad", &mut || {
            k.call(&[&x, &dy], &mut [&mut dw]).unwrap()
        });
    }
}

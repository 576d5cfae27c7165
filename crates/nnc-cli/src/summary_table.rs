//! The text layout of `nnc summary`.

use nnc_check::summary::{Summary, SummaryRow};
use nnc_diag::{shape_str, thousands};

/// Lays a summary out as an aligned table with a totals line.
pub fn render(summary: &Summary) -> String {
    let header = [
        "layer",
        "op",
        "output shape",
        "params",
        "FLOPs/example",
        "activation bytes/example",
    ];
    let mut rows: Vec<[String; 6]> = Vec::with_capacity(summary.rows.len() + 1);
    let mut i = 0;
    while i < summary.rows.len() {
        // The later steps of an `unroll`: one line for all of them.
        let repeat = summary
            .repeats
            .iter()
            .find(|r| r.steps > 1 && i == r.first + r.per_step);
        if let Some(r) = repeat {
            let end = (r.first + r.steps * r.per_step).min(summary.rows.len());
            let later = &summary.rows[i..end];
            let sum = |f: fn(&SummaryRow) -> u64| later.iter().map(f).fold(0, u64::saturating_add);
            rows.push([
                format!("steps 2..{}", r.steps),
                format!("{} x the step above", r.steps - 1),
                String::new(),
                thousands(sum(|r| r.params)),
                thousands(sum(|r| r.flops)),
                thousands(sum(|r| r.activation_bytes)),
            ]);
            i = end;
            continue;
        }
        let r = &summary.rows[i];
        rows.push([
            r.layer.clone(),
            r.op.clone(),
            shape_str(&r.shape),
            thousands(r.params),
            thousands(r.flops),
            thousands(r.activation_bytes),
        ]);
        i += 1;
    }
    rows.push([
        "total".to_string(),
        String::new(),
        String::new(),
        thousands(summary.total_params),
        thousands(summary.total_flops),
        thousands(summary.total_activation_bytes),
    ]);
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Text columns are left-aligned, numbers right-aligned.
            let padded = if i < 3 {
                format!("{cell:<w$}")
            } else {
                format!("{cell:>w$}")
            };
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(&padded);
        }
        out.trim_end().to_string()
    };
    let rule: String = "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1));
    let mut out = format!("model {}\n", summary.model);
    out.push_str(&line(&header.map(str::to_string)));
    out.push('\n');
    out.push_str(&rule);
    out.push('\n');
    let (body, total) = rows.split_at(rows.len() - 1);
    for row in body {
        out.push_str(&line(row));
        out.push('\n');
    }
    out.push_str(&rule);
    out.push('\n');
    out.push_str(&line(&total[0]));
    out.push('\n');
    out
}

/// Lays out which parameters each step of a game updates and reads.
pub fn render_game(game: &nnc_check::summary::GameSummary) -> String {
    let mut out = format!(
        "train {} on {}: {} per mini-batch, in this order\n",
        game.players.join(", "),
        game.data,
        if game.steps.len() == 1 {
            "1 step".to_string()
        } else {
            format!("{} steps", game.steps.len())
        }
    );
    for step in &game.steps {
        let rates: Vec<String> = step
            .rates
            .iter()
            .map(|(epoch, rate)| {
                if *epoch == 1 {
                    format!("learning rate {rate}")
                } else {
                    format!("{rate} from epoch {epoch}")
                }
            })
            .collect();
        let repeat = if step.repeat > 1 {
            format!(", {} times", step.repeat)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  step {}: {}, {}{repeat}\n",
            step.model,
            step.optimizer,
            rates.join(", ")
        ));
        out.push_str(&format!(
            "    updates {} values: {}\n",
            thousands(step.updated_values),
            step.updates.join(", ")
        ));
        if step.reads.is_empty() {
            out.push_str("    reads no other model's parameters\n");
        } else {
            out.push_str(&format!(
                "    reads, unchanged, {} values: {}\n",
                thousands(step.read_values),
                step.reads.join(", ")
            ));
        }
    }
    out
}

//! The text layout of `nnc summary`.

use nnc_check::summary::Summary;
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
    let mut rows: Vec<[String; 6]> = summary
        .rows
        .iter()
        .map(|r| {
            [
                r.layer.clone(),
                r.op.clone(),
                shape_str(&r.shape),
                thousands(r.params),
                thousands(r.flops),
                thousands(r.activation_bytes),
            ]
        })
        .collect();
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

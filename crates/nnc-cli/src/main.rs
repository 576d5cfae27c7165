//! `nnc`: check, summarise, format, train, benchmark and inspect the compilation of `.nnet` files.

use clap::{Parser, Subcommand, ValueEnum};
use nnc_cli::driver::{self, Options, Report};
use nnc_cli::summary_table;
use nnc_diag::render;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod args;
mod bench;
mod checkpoint;
mod corrupt;
mod emit;
mod emit_graph;
mod emit_wgsl;
mod epoch_log;
mod eval;
mod eval_samples;
mod failure;
mod game;
mod help;
mod images;
mod plot;
mod predict;
mod prepare;
mod run;
mod sample;
mod sample_text;
mod trace;

#[derive(Parser)]
#[command(
    name = "nnc",
    version,
    about = "The compiler for .nnet neural-network files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files: syntax, names, every tensor shape, costs, data and training settings.
    #[command(after_help = help::CHECK)]
    Check {
        /// The .nnet files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also open the data files the program names (existence, IDX headers and sizes, splits, labels).
        #[arg(long)]
        data: bool,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// When to colour text output.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Show, per layer, the output shape, parameters, FLOPs and activation memory of each model.
    #[command(after_help = help::SUMMARY)]
    Summary {
        /// The .nnet file.
        file: PathBuf,
        /// Only this model (default: every model in the file).
        #[arg(long)]
        model: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Format files in the canonical style (in place).
    #[command(after_help = help::FMT)]
    Fmt {
        /// The .nnet files to format.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Do not write; exit 1 if any file is not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Train a model: check the file and its data, then run its train block.
    #[command(after_help = help::RUN)]
    Run(run::RunArgs),
    /// Time the training of a model: median epoch seconds, examples/s and
    /// compile time over a few epochs, without evaluation.
    #[command(after_help = help::BENCH)]
    Bench(bench::BenchArgs),
    /// Measure trained weights on a split of the model's data: cost,
    /// accuracy and, for classifiers, the confusion matrix.
    #[command(after_help = help::EVAL)]
    Eval(eval::EvalArgs),
    /// Class probabilities of new examples (PNG or JPEG images, IDX files,
    /// CSV rows) under trained weights.
    #[command(after_help = help::PREDICT)]
    Predict(predict::PredictArgs),
    /// Draw images from a generative model into a PNG and SVG grid: a
    /// VAE's codes from the prior or a walk between two test images, or a
    /// game's generator on noise (a chosen class for a conditional one).
    #[command(after_help = help::SAMPLE)]
    Sample(sample::SampleArgs),
    /// Measure a game's generated images with a trained classifier: the
    /// share classified confidently, the share of each class and, for a
    /// conditional generator, the share of the class asked for.
    #[command(after_help = help::EVAL_SAMPLES)]
    EvalSamples(eval_samples::EvalSamplesArgs),
    /// Print what the compiler makes of a file (`nnc emit ir FILE --after PASS`).
    #[command(subcommand, after_help = help::EMIT)]
    Emit(emit::EmitKind),
    /// Overlay one metric of several runs from their `nnc run --log` logs
    /// in one PNG or SVG figure.
    #[command(after_help = help::PLOT)]
    Plot(plot::PlotArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

/// Exit status of a command: everything fine, problems found in the input,
/// or the command could not do its work (usage, unreadable files).
const EXIT_PROBLEMS: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            files,
            data,
            deny_warnings,
            format,
            color,
        } => check(&files, data, deny_warnings, format, color),
        Command::Summary {
            file,
            model,
            format,
        } => summary(&file, model.as_deref(), format),
        Command::Fmt { files, check } => fmt(&files, check),
        Command::Run(args) => run::run(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Eval(args) => eval::eval(&args),
        Command::Predict(args) => predict::predict(&args),
        Command::Sample(args) => sample::sample(&args),
        Command::EvalSamples(args) => eval_samples::eval_samples(&args),
        Command::Emit(kind) => emit::emit(&kind),
        Command::Plot(args) => plot::plot(&args),
    }
}

/// Reads a model file, printing E0003 when it cannot be read (exit 1).
fn read(path: &Path) -> Result<String, ExitCode> {
    failure::read_model(path).map_err(|failure| ExitCode::from(failure.code))
}

fn check(
    files: &[PathBuf],
    data: bool,
    deny_warnings: bool,
    format: Format,
    color: Color,
) -> ExitCode {
    let color = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut errors = 0;
    let mut warnings = 0;
    let mut json = Vec::new();
    for path in files {
        let source = match driver::read_source(path) {
            Ok(source) => source,
            Err(error) => {
                // As a file with one error: counted, rendered, checked on.
                let diagnostics = [error.to_diagnostic()];
                let name = path.display().to_string();
                errors += 1;
                match format {
                    Format::Text => eprint!("{}", render::to_text(&diagnostics, &name, "", color)),
                    Format::Json => json.extend(render::to_json(&diagnostics, &name, "")),
                }
                continue;
            }
        };
        let report: Report = driver::check_source(
            &source,
            driver::base_dir(path),
            Options { inspect_data: data },
        );
        errors += report.error_count();
        warnings += report.warning_count();
        let name = path.display().to_string();
        match format {
            Format::Text => eprint!(
                "{}",
                render::to_text(&report.diagnostics, &name, &source, color)
            ),
            Format::Json => json.extend(render::to_json(&report.diagnostics, &name, &source)),
        }
    }
    let failed = errors > 0 || (deny_warnings && warnings > 0);
    match format {
        Format::Text => {
            let mut line = tally(errors, warnings, files.len());
            if !data && errors == 0 {
                line.push_str("; data files not opened (`--data` checks them)");
            }
            eprintln!("{line}");
        }
        Format::Json => {
            let doc = serde_json::json!({
                "files": files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": json,
            });
            failure::print_line(serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
    }
    if failed {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    }
}

fn tally(errors: usize, warnings: usize, files: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => format!("check passed: {}, no errors", plural(files, "file")),
        (0, w) => format!("check passed with {}", plural(w, "warning")),
        (e, 0) => format!("check failed: {}", plural(e, "error")),
        (e, w) => format!(
            "check failed: {}, {}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

fn summary(path: &Path, only: Option<&str>, format: Format) -> ExitCode {
    let source = match read(path) {
        Ok(source) => source,
        Err(code) => return code,
    };
    let report = driver::check_source(&source, driver::base_dir(path), Options::default());
    let errors = report.error_count();
    let show_errors = || {
        eprint!(
            "{}",
            render::to_text(
                &report.diagnostics,
                &path.display().to_string(),
                &source,
                false
            )
        );
    };
    // The models that checked clean are summarised even when another part
    // of the file (a data or train block, another model) has errors.
    let models: Vec<_> = report
        .program
        .iter()
        .flat_map(|p| p.models.iter())
        .filter(|m| only.is_none_or(|name| m.name == name))
        .collect();
    if models.is_empty() && errors > 0 {
        show_errors();
        eprintln!(
            "error: `{}` has errors; fix them to see its summary",
            path.display()
        );
        return ExitCode::from(EXIT_PROBLEMS);
    }
    let Some(program) = report.program.as_ref() else {
        return ExitCode::from(EXIT_PROBLEMS);
    };
    if models.is_empty() {
        let names: Vec<&str> = program.models.iter().map(|m| m.name.as_str()).collect();
        match only {
            Some(name) => eprintln!(
                "error: no model `{name}` in `{}`; its models are: {}",
                path.display(),
                names.join(", ")
            ),
            None => eprintln!("error: `{}` defines no model", path.display()),
        }
        return ExitCode::from(EXIT_PROBLEMS);
    }
    let summaries: Vec<_> = models
        .iter()
        .map(|m| nnc_check::summary::summarize(m))
        .collect();
    // Games: which step updates which parameters.
    let games: Vec<_> = program
        .trains
        .iter()
        .filter(|t| only.is_none_or(|name| t.players.iter().any(|p| p == name)))
        .filter_map(nnc_check::summary::summarize_game)
        .collect();
    let mut out = std::io::stdout().lock();
    let text = match format {
        Format::Text => summaries
            .iter()
            .map(summary_table::render)
            .chain(games.iter().map(summary_table::render_game))
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Json => {
            let mut object = serde_json::json!({ "models": summaries });
            if !games.is_empty() {
                object["games"] = serde_json::json!(games);
            }
            serde_json::to_string_pretty(&object).unwrap_or_default() + "\n"
        }
    };
    // A closed pipe (`nnc summary f | head`) is not an error worth a message.
    let _ = out.write_all(text.as_bytes());
    if errors > 0 {
        show_errors();
        eprintln!(
            "error: `{}` has errors (shown above) outside the models summarised",
            path.display()
        );
        return ExitCode::from(EXIT_PROBLEMS);
    }
    ExitCode::SUCCESS
}

fn fmt(files: &[PathBuf], check_only: bool) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for path in files {
        let source = match read(path) {
            Ok(source) => source,
            Err(code) => {
                status = code;
                continue;
            }
        };
        let formatted = match nnc_fmt::format(&source) {
            Ok(text) => text,
            Err(error) => {
                let diagnostics: Vec<_> = error.errors.iter().map(|e| e.to_diagnostic()).collect();
                eprint!(
                    "{}",
                    render::to_text(&diagnostics, &path.display().to_string(), &source, false)
                );
                eprintln!(
                    "error: `{}` has syntax errors; it was not formatted",
                    path.display()
                );
                status = ExitCode::from(EXIT_PROBLEMS);
                continue;
            }
        };
        if formatted == source {
            continue;
        }
        if check_only {
            eprintln!("{} is not formatted", path.display());
            status = ExitCode::from(EXIT_PROBLEMS);
        } else if let Err(e) = write_atomically(path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            status = ExitCode::from(EXIT_USAGE);
        }
    }
    status
}

/// Writes through a temporary file in the same folder and a rename, so an
/// interrupted write never leaves a half-written source file.
fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = driver::base_dir(path);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.nnc-fmt.tmp"));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

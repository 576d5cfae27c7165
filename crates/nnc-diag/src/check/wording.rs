//! [`CheckError::to_diagnostic`]: one exhaustive match that hands each
//! fact to the wording of its family.

use super::{lints, names, shapes, structure, training, values, CheckError};
use crate::Diagnostic;

impl CheckError {
    /// Words the fact: message, labels, notes and hints.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let code = self.code();
        let d = match self {
            CheckError::InBlock { block, site, error } => error
                .to_diagnostic()
                .with_secondary(*site, format!("in this use of block `{block}`")),
            // Names and the arguments of calls.
            CheckError::UnknownName {
                name,
                kind,
                span,
                did_you_mean,
                defined_later,
            } => names::unknown_name(code, name, *kind, *span, did_you_mean, *defined_later),
            CheckError::UnknownCallee {
                name,
                span,
                did_you_mean,
            } => names::unknown_callee(code, name, *span, did_you_mean),
            CheckError::Duplicate {
                name,
                kind,
                span,
                first,
            } => names::duplicate(code, name, *kind, *span, *first),
            CheckError::UnknownArgument {
                callee,
                name,
                span,
                did_you_mean,
                takes,
            } => names::unknown_argument(code, callee, name, *span, did_you_mean, takes),
            CheckError::MissingArguments {
                callee,
                names,
                span,
                takes,
            } => names::missing_arguments(code, callee, names, *span, takes),
            CheckError::CostNeedsOutput {
                cost,
                outputs,
                span,
            } => names::cost_needs_output(code, cost, outputs, *span),
            CheckError::TooManyPositional {
                callee,
                max,
                given,
                span,
                takes,
            } => names::too_many_positional(code, callee, *max, *given, *span, takes),
            CheckError::ArgumentTwice {
                callee,
                name,
                span,
                first,
            } => names::argument_twice(code, callee, name, *span, *first),
            CheckError::ExclusiveArguments {
                callee,
                name,
                other,
                decides,
                span,
                other_span,
            } => names::exclusive_arguments(code, callee, name, other, decides, *span, *other_span),
            // Values and constants.
            CheckError::WrongKind {
                subject,
                expected,
                found,
                span,
            } => values::wrong_kind(code, subject, expected, found, *span),
            CheckError::OutOfRange {
                subject,
                value,
                range,
                span,
            } => values::out_of_range(code, subject, *value, range, *span),
            CheckError::EmptySlice { start, end, span } => {
                values::empty_slice(code, *start, *end, *span)
            }
            CheckError::UnknownOption {
                kind,
                given,
                options,
                did_you_mean,
                span,
            } => values::unknown_option(code, *kind, given, options, did_you_mean, *span),
            CheckError::DivisionByZero { span, divisor } => {
                values::division_by_zero(code, *span, *divisor)
            }
            CheckError::ConstCycle { cycle, span } => values::const_cycle(code, cycle, *span),
            CheckError::ConstOverflow { op, span } => values::const_overflow(code, op, *span),
            CheckError::NotFinite { span } => values::not_finite(code, *span),
            CheckError::ConstOperand { op, found, span } => {
                values::const_operand(code, op, found, *span)
            }
            // What bodies hold.
            CheckError::UnknownSetting {
                body,
                key,
                known,
                did_you_mean,
                span,
            } => structure::unknown_setting(code, *body, key, known, did_you_mean, *span),
            CheckError::NotAllowed { stmt, body, span } => {
                structure::not_allowed(code, stmt, *body, *span)
            }
            CheckError::RecursiveBlock { block, cycle, span } => {
                structure::recursive_block(code, block, cycle, *span)
            }
            CheckError::BlocksTooDeep { block, limit, span } => {
                structure::blocks_too_deep(code, block, *limit, *span)
            }
            CheckError::ExpansionTooLarge { model, limit, span } => {
                structure::expansion_too_large(code, model, *limit, *span)
            }
            CheckError::LayersNeedOneInput {
                model,
                inputs,
                span,
            } => structure::layers_need_one_input(code, model, inputs, *span),
            CheckError::ModelWithoutInput { model, span } => {
                structure::model_without_input(code, model, *span)
            }
            CheckError::InputWithoutShape { name, span } => {
                structure::input_without_shape(code, name, *span)
            }
            CheckError::LayerInputs {
                layer,
                expected,
                given,
                span,
            } => structure::layer_inputs(code, layer, *expected, *given, *span),
            CheckError::TrainedModelInputs {
                model,
                inputs,
                span,
                model_span,
            } => structure::trained_model_inputs(code, model, *inputs, *span, *model_span),
            CheckError::NoOutput {
                name,
                block,
                span,
                last_let,
            } => structure::no_output(code, name, *block, *span, last_let.as_ref()),
            CheckError::SettingTwice { key, span, first } => {
                structure::setting_twice(code, key, *span, *first)
            }
            CheckError::CostTwice { span, first } => training::cost_twice(code, *span, *first),
            CheckError::TransposeArith {
                layer,
                axis,
                arith,
                span,
                input_from,
            } => shapes::transpose_arith(code, layer, *axis, arith, *span, *input_from),
            CheckError::PenaltyShape { shape, span, from } => {
                training::penalty_shape(code, shape, *span, *from)
            }
            CheckError::CostName { name, term, span } => {
                training::cost_name(code, name.as_deref(), *term, *span)
            }
            CheckError::BlockOutputs {
                block,
                outputs,
                given,
                span,
            } => structure::block_outputs(code, block.as_deref(), outputs, *given, *span),
            CheckError::EmbedInput { span, input_from } => {
                structure::embed_input(code, *span, *input_from)
            }
            CheckError::Cell {
                block,
                problem,
                span,
                at,
            } => structure::cell(code, block, problem, *span, *at),
            CheckError::Bptt { problem, span, at } => training::bptt(code, problem, *span, *at),
            CheckError::SourceWithoutLabels { span, labels } => {
                training::source_without_labels(code, *span, *labels)
            }
            CheckError::NeedsLabels {
                model,
                data,
                span,
                cost,
                labels,
            } => training::needs_labels(code, model, data, *span, *cost, *labels),
            CheckError::AxisOutOfRange {
                callee,
                value,
                shape,
                span,
                from,
            } => shapes::axis_out_of_range(code, callee, *value, shape, *span, *from),
            CheckError::CostTargetShape {
                output,
                output_shape,
                target,
                target_shape,
                span,
                target_span,
            } => training::cost_target_shape(
                code,
                (output, output_shape),
                (target, target_shape),
                *span,
                *target_span,
            ),
            // Shapes.
            CheckError::DenseNeedsVector {
                input,
                size,
                span,
                input_from,
            } => shapes::dense_needs_vector(code, input, *size, *span, *input_from),
            CheckError::AssertionFailed {
                expected,
                actual,
                span,
                value_span,
                derivation,
            } => shapes::assertion_failed(code, expected, actual, *span, *value_span, derivation),
            CheckError::KernelTooLarge {
                layer,
                axes,
                input,
                span,
                input_from,
            } => shapes::window_too_large(
                code,
                "kernel",
                layer,
                axes,
                input,
                *span,
                *input_from,
                true,
            ),
            CheckError::PoolTooLarge {
                layer,
                axes,
                input,
                span,
                input_from,
            } => shapes::window_too_large(
                code,
                "pooling window",
                layer,
                axes,
                input,
                *span,
                *input_from,
                false,
            ),
            CheckError::WrongRank {
                layer,
                need,
                actual,
                span,
                input_from,
            } => shapes::wrong_rank(code, layer, *need, actual, *span, *input_from),
            CheckError::ShapeMismatch {
                op,
                lhs,
                rhs,
                span,
                lhs_from,
                rhs_from,
            } => shapes::shape_mismatch(code, op, lhs, rhs, *span, *lhs_from, *rhs_from),
            CheckError::ReshapeCount {
                from,
                from_count,
                to,
                to_count,
                inferred,
                span,
            } => shapes::reshape_count(code, from, *from_count, to, *to_count, *inferred, *span),
            CheckError::ClassesMismatch {
                classes,
                model,
                output,
                output_size,
                labels_span,
                output_span,
                train_span,
            } => shapes::classes_mismatch(
                code,
                *classes,
                model,
                output,
                *output_size,
                *labels_span,
                *output_span,
                *train_span,
            ),
            CheckError::InvalidShape { problem, span } => {
                shapes::invalid_shape(code, problem, *span)
            }
            CheckError::SharedLayerShape {
                name,
                first,
                now,
                span,
                first_span,
            } => shapes::shared_layer_shape(code, name, first, now, *span, *first_span),
            // Costs and training.
            CheckError::CostNeedsSigmoid {
                cost,
                act,
                cost_span,
                output_span,
            } => training::cost_needs_sigmoid(code, cost, act.as_deref(), *cost_span, *output_span),
            CheckError::NoCost {
                model,
                span,
                model_span,
            } => training::no_cost(code, model, *span, *model_span),
            CheckError::PhaseEpochOutOfRange {
                epoch,
                epochs,
                span,
            } => training::phase_epoch_out_of_range(code, *epoch, *epochs, *span),
            CheckError::MissingSettings { keys, span } => {
                training::missing_settings(code, keys, *span)
            }
            CheckError::MissingSplit {
                split,
                data,
                need,
                span,
                data_span,
            } => training::missing_split(code, split, data, need, *span, *data_span),
            CheckError::AugmentNeedsImages {
                augmentation,
                span,
                source_span,
                text,
            } => training::augment_needs_images(code, augmentation, *span, *source_span, *text),
            CheckError::MetricMisfit {
                metric,
                misfit,
                span,
                data_span,
            } => training::metric_misfit(code, metric, misfit, *span, *data_span),
            CheckError::PhasesOutOfOrder {
                epoch,
                previous,
                span,
                previous_span,
            } => training::phases_out_of_order(code, *epoch, *previous, *span, *previous_span),
            CheckError::SeveralModels { count, span } => {
                training::several_models(code, *count, *span)
            }
            CheckError::PlayerInput {
                model,
                input,
                expected,
                expected_span,
                given,
                given_from,
                span,
            } => training::player_input(
                code,
                model,
                input,
                (expected, *expected_span),
                (given, *given_from),
                *span,
            ),
            CheckError::StepIgnoresModel {
                model,
                span,
                step_span,
                detached,
            } => training::step_ignores_model(code, model, *span, *step_span, *detached),
            CheckError::StepModelNotTrained {
                model,
                span,
                header,
            } => training::step_model_not_trained(code, model, *span, *header),
            CheckError::StepLabels {
                data,
                span,
                data_span,
            } => training::step_labels(code, data, *span, *data_span),
            CheckError::NoStepUpdates { model, span } => lints::no_step_updates(code, model, *span),
            // Lints.
            CheckError::StrideDropsPixels { layer, axes, span } => {
                lints::stride_drops(code, layer, axes, *span)
            }
            CheckError::QuadraticSigmoid {
                cost_span,
                output_span,
            } => lints::quadratic_sigmoid(code, *cost_span, *output_span),
            CheckError::LargeInitStd {
                std,
                fan_in,
                bias_std,
                span,
                layer_span,
            } => lints::large_init(code, *std, *fan_in, *bias_std, *span, *layer_span),
            CheckError::LogLikelihoodWithoutSoftmax {
                act,
                cost_span,
                output_span,
            } => lints::log_likelihood_without_softmax(
                code,
                act.as_deref(),
                *cost_span,
                *output_span,
            ),
            CheckError::Unused { kind, name, span } => lints::unused(code, *kind, name, *span),
            CheckError::OutputNotTrained {
                output,
                cost_output,
                layers,
                span,
                cost_span,
            } => lints::output_not_trained(code, output, cost_output, layers, *span, *cost_span),
        };
        debug_assert_eq!(d.severity, self.severity());
        d
    }
}

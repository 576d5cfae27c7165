//! The initial parameters of a run, drawn from its seed.

use crate::error::TrainError;
use nnc_check::program::Model;
use nnc_lower::backend::Backend;

/// Draws the initial parameters of `model` from `seed` (the `init` of each
/// parameter a layer declares, trained or not, see `nnc_lower::init_params`)
/// and gives them to the backend. Call it once, before [`crate::train`], with the schedule's seed.
pub fn init_params<B: Backend + ?Sized>(
    backend: &mut B,
    model: &Model,
    seed: u64,
) -> Result<(), TrainError> {
    backend
        .set_params(nnc_lower::init_params(model, seed))
        .map_err(TrainError::SetParams)
}

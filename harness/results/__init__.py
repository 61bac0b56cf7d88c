"""The run record: model, manifest, storage, baselines, history."""

//! Datasets, field mappings and prompt building.

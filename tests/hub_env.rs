//! Tests that set process environment variables (`HF_HOME`, `HF_HUB_CACHE`, `HF_HUB_OFFLINE`):
//! a binary of their own, so no other test reads the environment while they write it, and
//! serialised among themselves by [`common::ENV_LOCK`].

mod common;

mod data_prepare_hub_cache;
mod hub_cache;

# Sourced by the bench scripts. `cargo_executable NAME` prints the path of the executable of the
# target NAME from the `--message-format=json` messages of a cargo build on stdin.
cargo_executable() {
    grep "\"name\":\"$1\"" | grep -o '"executable":"[^"]*"' | tail -1 | sed 's/.*:"\(.*\)"/\1/'
}

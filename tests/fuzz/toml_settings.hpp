#pragma once

/// How the fuzz build compiles toml++ (tests/fuzz/CMakeLists.txt includes
/// this ahead of every source that links wsvisor_fuzz_toml).

// Declarations only; tests/fuzz/toml.cpp holds the one implementation.
#define TOML_HEADER_ONLY 0

// toml++'s own debug assertions are off, as in Debian's build of it that
// wsvisor runs with: some fire on malformed input that the parser goes on to
// report as a parse error (3.3.0's parse_key() on `[:`), so in the fuzz
// build they would stop every run at a case production handles.
#define TOML_ASSERT(expr) static_cast<void>(0)

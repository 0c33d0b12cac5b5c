// toml++'s implementation, compiled once for the fuzz build (see CMakeLists.txt).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>

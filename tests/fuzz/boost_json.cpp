// Boost.JSON's implementation, compiled once for the fuzz build (see CMakeLists.txt).
#include <boost/json/src.hpp>

# FindCAF: locates the C++ Actor Framework 0.17 as Debian's libcaf-dev ships it
# (headers and libraries, but no CMake package and no pkg-config file).
#
# Provides the imported targets CAF::core, CAF::io and CAF::openssl (the last
# only when libcaf_openssl is present) and sets CAF_FOUND and CAF_VERSION.
#
# WSVISOR_CAF_ROOT, when set, names a CAF source tree built in its build/
# subdirectory instead (the tsan preset: CAF built with ThreadSanitizer by
# scripts/test --tsan). Headers come from its libcaf_core and libcaf_io and
# the generated build/libcaf_core; libcaf_core and libcaf_io from build/lib,
# whose directory goes into the build RPATH of whatever links them, so that
# those binaries load this CAF rather than the system's. No CAF::openssl then.

set(WSVISOR_CAF_ROOT "" CACHE PATH
    "A CAF 0.17 source tree built in its build/ subdirectory; empty: the system's CAF")

if(WSVISOR_CAF_ROOT)
  set(CAF_INCLUDE_DIR "${WSVISOR_CAF_ROOT}/libcaf_core")
  set(_caf_extra_include_dirs "${WSVISOR_CAF_ROOT}/libcaf_io" "${WSVISOR_CAF_ROOT}/build/libcaf_core")
  set(CAF_CORE_LIBRARY "${WSVISOR_CAF_ROOT}/build/lib/libcaf_core.so")
  set(CAF_IO_LIBRARY "${WSVISOR_CAF_ROOT}/build/lib/libcaf_io.so")
  set(CAF_OPENSSL_LIBRARY "")
  foreach(_caf_path IN ITEMS "${CAF_INCLUDE_DIR}/caf/all.hpp" "${WSVISOR_CAF_ROOT}/libcaf_io/caf/io/all.hpp"
                     "${WSVISOR_CAF_ROOT}/build/libcaf_core/caf/detail/build_config.hpp"
                     "${CAF_CORE_LIBRARY}" "${CAF_IO_LIBRARY}")
    if(NOT EXISTS "${_caf_path}")
      message(FATAL_ERROR "WSVISOR_CAF_ROOT=${WSVISOR_CAF_ROOT}: no ${_caf_path} (scripts/test --tsan builds it)")
    endif()
  endforeach()
else()
  set(_caf_extra_include_dirs "")
  find_path(CAF_INCLUDE_DIR NAMES caf/all.hpp)
  find_library(CAF_CORE_LIBRARY NAMES caf_core)
  find_library(CAF_IO_LIBRARY NAMES caf_io)
  find_library(CAF_OPENSSL_LIBRARY NAMES caf_openssl)
endif()

if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  if(_caf_version_line MATCHES "CAF_VERSION ([0-9]+)")
    # CAF encodes its version as major * 10000 + minor * 100 + patch.
    math(EXPR _caf_major "${CMAKE_MATCH_1} / 10000")
    math(EXPR _caf_minor "(${CMAKE_MATCH_1} / 100) % 100")
    math(EXPR _caf_patch "${CMAKE_MATCH_1} % 100")
    set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY
  VERSION_VAR CAF_VERSION)

if(CAF_FOUND)
  find_package(Threads REQUIRED)
  set(_caf_include_dirs ${CAF_INCLUDE_DIR} ${_caf_extra_include_dirs})
  if(NOT TARGET CAF::core)
    add_library(CAF::core UNKNOWN IMPORTED)
    set_target_properties(CAF::core PROPERTIES
      IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${_caf_include_dirs}"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
  if(NOT TARGET CAF::io)
    add_library(CAF::io UNKNOWN IMPORTED)
    set_target_properties(CAF::io PROPERTIES
      IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
      INTERFACE_LINK_LIBRARIES CAF::core)
  endif()
  if(CAF_OPENSSL_LIBRARY AND NOT TARGET CAF::openssl)
    add_library(CAF::openssl UNKNOWN IMPORTED)
    set_target_properties(CAF::openssl PROPERTIES
      IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
      INTERFACE_LINK_LIBRARIES CAF::io)
  endif()
endif()

mark_as_advanced(CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY CAF_OPENSSL_LIBRARY)

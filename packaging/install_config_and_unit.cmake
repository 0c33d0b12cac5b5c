# Installs the default config and the systemd unit (packaging/CMakeLists.txt
# sets the wsvisor_* variables). Runs at install time, so CMAKE_INSTALL_PREFIX
# is the prefix in use. file(INSTALL) adds DESTDIR itself.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(wsvisor_etc "/etc")
else()
  set(wsvisor_etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
file(INSTALL "${wsvisor_config_source}" DESTINATION "${wsvisor_etc}/wsvisor")

set(BINDIR "${CMAKE_INSTALL_PREFIX}/${wsvisor_bindir}")
set(CONFIG "${wsvisor_etc}/wsvisor/wsvisor.toml")
configure_file("${wsvisor_unit_source}" "${wsvisor_unit_staged}" @ONLY)
file(INSTALL "${wsvisor_unit_staged}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")

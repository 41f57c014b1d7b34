# berth_add_plugin(NAME [NO_INSTALL] SOURCE...)
#
# Builds NAME.so, a plugin the way Berth's own are built:
#   - a MODULE (dlopen()ed, never linked against) with no "lib" prefix, so
#     `use: NAME` in berth.yaml finds NAME.so on plugin_path;
#   - C11, position independent, hidden visibility: the only exported
#     symbol is the one marked BERTH_PLUGIN_EXPORT, berth_plugin_entry();
#   - -Wall -Wextra;
#   - the include directory of <berth/plugin.h> (Berth::plugin).
#
# Unless NO_INSTALL is given, `cmake --install` puts NAME.so in
# <prefix>/lib/berth/plugins, where Berth looks after its plugin_path.
# NAME is an ordinary target: add sources, definitions or libraries with
# target_* calls as usual.

include_guard(GLOBAL)
include(GNUInstallDirs)

function(berth_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 BERTH_PLUGIN "NO_INSTALL" "" "")
  set(sources ${BERTH_PLUGIN_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "berth_add_plugin(${name}): no source files given")
  endif()
  if(NOT TARGET Berth::plugin)
    message(FATAL_ERROR "berth_add_plugin(${name}): call find_package(Berth) first")
  endif()

  add_library(${name} MODULE ${sources})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_STANDARD 11
    C_STANDARD_REQUIRED ON
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  target_link_libraries(${name} PRIVATE Berth::plugin)
  target_compile_options(${name} PRIVATE
    "$<$<C_COMPILER_ID:GNU,Clang,AppleClang>:-Wall;-Wextra>")
  if(NOT BERTH_PLUGIN_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/berth/plugins)
  endif()
endfunction()

# Forwards find_package(scatterpool) to the CMake package inside the scatterpool Python package.
include("${CMAKE_CURRENT_LIST_DIR}/../scatterpool/lib/cmake/scatterpool/scatterpoolConfig.cmake")

# Forwards the version check of find_package(scatterpool) to the package inside the scatterpool Python package.
include("${CMAKE_CURRENT_LIST_DIR}/../scatterpool/lib/cmake/scatterpool/scatterpoolConfigVersion.cmake")

// scatterpool: the whole public C++ API.
#pragma once

#include <scatterpool/any_object.hpp>
#include <scatterpool/buffer.hpp>
#include <scatterpool/buffer_cache.hpp>
#include <scatterpool/c_task.hpp>
#include <scatterpool/dtype.hpp>
#include <scatterpool/dummy_pool.hpp>
#include <scatterpool/errors.hpp>
#include <scatterpool/even_split.hpp>
#include <scatterpool/function_ref.hpp>
#include <scatterpool/pool.hpp>
#include <scatterpool/registry.hpp>
#include <scatterpool/remote_object.hpp>
#include <scatterpool/thread_pool.hpp>
#include <scatterpool/vector_array.hpp>
#include <scatterpool/worker_context.hpp>

// scatterpool: letting a thread that is being ended pass a catch-all handler.
//
// pthread_exit and thread cancellation end a thread by unwinding its stack
// with a special exception (abi::__forced_unwind with libstdc++). A handler
// that catches it must rethrow it: if it is swallowed, glibc aborts the
// process ("FATAL: exception not rethrown"). An embedding runtime may end a
// thread this way from inside a task or a poll (CPython does, in a thread that
// takes the GIL back while the interpreter finalizes), so every catch (...)
// on a path that runs a task, a poll or a call into such a runtime puts this
// handler first:
//
//     try { task(w); }
//     SCATTERPOOL_PASS_FORCED_UNWIND
//     catch (...) { error = std::current_exception(); }
//
// Code between the throw and the handler must expect that the thread never
// returns there: what it holds (locks, other runtimes' objects) is released
// by destructors only, during the unwinding.
#pragma once

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#define SCATTERPOOL_PASS_FORCED_UNWIND \
    catch (abi::__forced_unwind&) {    \
        throw;                         \
    }
#else
// Only libstdc++ gives the forced unwinding a type that a handler can name.
#define SCATTERPOOL_PASS_FORCED_UNWIND
#endif

// scatterpool tests: the runner behind check.hpp.
#include "check.hpp"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

namespace scatterpool::test {

namespace {

struct Case {
    const char* name;
    void (*run)();
};

std::vector<Case>& cases() {
    static std::vector<Case> all;
    return all;
}

std::atomic<int> g_failures{0};
std::mutex g_context_mutex;
std::string g_context;

std::string context() {
    std::lock_guard<std::mutex> lock(g_context_mutex);
    return g_context;
}

}  // namespace

Register::Register(const char* name, void (*run)()) { cases().push_back({name, run}); }

void fail(const char* file, int line, const std::string& what) {
    g_failures.fetch_add(1);
    const std::string where = context();
    std::fprintf(stderr, "%s:%d: FAILED%s%s%s: %s\n", file, line, where.empty() ? "" : " [", where.c_str(),
                 where.empty() ? "" : "]", what.c_str());
}

Context::Context(std::string name) {
    std::lock_guard<std::mutex> lock(g_context_mutex);
    previous_ = std::exchange(g_context, std::move(name));
}

Context::~Context() {
    std::lock_guard<std::mutex> lock(g_context_mutex);
    g_context = std::move(previous_);
}

}  // namespace scatterpool::test

int main(int argc, char** argv) {
    using namespace scatterpool::test;
    const char* filter = argc > 1 ? argv[1] : "";
    int run = 0;
    int failed_cases = 0;
    for (const Case& c : cases()) {
        if (std::strstr(c.name, filter) == nullptr) {
            continue;
        }
        ++run;
        const int before = g_failures.load();
        std::printf("%-60s", c.name);
        std::fflush(stdout);
        try {
            c.run();
        } catch (const std::exception& error) {
            fail(__FILE__, __LINE__, std::string("uncaught exception: ") + error.what());
        } catch (...) {
            fail(__FILE__, __LINE__, "uncaught non-std exception");
        }
        const bool ok = g_failures.load() == before;
        failed_cases += ok ? 0 : 1;
        std::printf("%s\n", ok ? "ok" : "FAILED");
    }
    if (run == 0) {
        std::fprintf(stderr, "no test case matches \"%s\"\n", filter);
        return 1;
    }
    std::printf("%d of %d cases passed\n", run - failed_cases, run);
    return failed_cases == 0 ? 0 : 1;
}

// scatterpool tests: a minimal test runner and check macros (no framework).
//
// A test file defines cases with TEST_CASE(name) { ... } and links
// check.cpp, whose main() runs every case (or those whose names contain the
// first argument) and exits non-zero if any check failed. Checks may run on
// any thread, including a pool's workers; a failed check is reported and
// counted, and the case goes on.
#pragma once

#include <atomic>
#include <exception>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace scatterpool::test {

/// @brief Adds a test case to the list main() runs.
struct Register {
    Register(const char* name, void (*run)());
};

/// @brief Reports a failed check at @p file : @p line and counts it.
void fail(const char* file, int line, const std::string& what);

/// @brief Names what the checks that follow run on ("ThreadPool(3)"), for
/// failure messages; restores the previous name when it goes away.
class Context {
public:
    explicit Context(std::string name);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

private:
    std::string previous_;
};

template <class T, class = void> struct printable : std::false_type {};
template <class T>
struct printable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

/// @brief @p value as text, or "?" for a type without operator<<.
template <class T> std::string show(const T& value) {
    if constexpr (printable<T>::value) {
        std::ostringstream out;
        out << value;
        return out.str();
    } else {
        return "?";
    }
}

}  // namespace scatterpool::test

#define SP_TEST_CONCAT2(a, b) a##b
#define SP_TEST_CONCAT(a, b) SP_TEST_CONCAT2(a, b)

/// Defines a test case; the body follows in braces.
#define TEST_CASE(name)                                                              \
    static void name();                                                              \
    static const ::scatterpool::test::Register SP_TEST_CONCAT(name, _registered)(#name, name); \
    static void name()

/// Checks that @p cond holds.
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            ::scatterpool::test::fail(__FILE__, __LINE__, "CHECK(" #cond ")");       \
        }                                                                            \
    } while (false)

/// Checks that @p a == @p b, printing both when they differ.
#define CHECK_EQ(a, b)                                                               \
    do {                                                                             \
        const auto sp_test_a = (a);                                                  \
        const auto sp_test_b = (b);                                                  \
        if (!(sp_test_a == sp_test_b)) {                                             \
            ::scatterpool::test::fail(__FILE__, __LINE__,                            \
                                      "CHECK_EQ(" #a ", " #b "): " +                 \
                                          ::scatterpool::test::show(sp_test_a) + " != " + \
                                          ::scatterpool::test::show(sp_test_b));     \
        }                                                                            \
    } while (false)

/// Checks that @p expr throws a @p type whose what() contains @p text.
#define CHECK_THROWS_WITH(expr, type, text)                                          \
    do {                                                                             \
        try {                                                                        \
            (void)(expr);                                                            \
            ::scatterpool::test::fail(__FILE__, __LINE__, #expr " did not throw " #type); \
        } catch (const type& sp_test_error) {                                        \
            if (std::string(sp_test_error.what()).find(text) == std::string::npos) { \
                ::scatterpool::test::fail(__FILE__, __LINE__,                        \
                                          #expr " threw " #type " without \"" +      \
                                              std::string(text) + "\": " + sp_test_error.what()); \
            }                                                                        \
        } catch (const std::exception& sp_test_error) {                              \
            ::scatterpool::test::fail(__FILE__, __LINE__,                            \
                                      #expr " threw another exception than " #type ": " + \
                                          std::string(sp_test_error.what()));        \
        } catch (...) {                                                              \
            ::scatterpool::test::fail(__FILE__, __LINE__,                            \
                                      #expr " threw a non-std exception, not " #type); \
        }                                                                            \
    } while (false)

/// Checks that @p expr throws a @p type.
#define CHECK_THROWS(expr, type) CHECK_THROWS_WITH(expr, type, "")

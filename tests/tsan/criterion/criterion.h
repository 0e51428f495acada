/*
 * criterion/criterion.h (TSan shim) - just enough of Criterion's API to
 * build the concurrency tests unchanged under ThreadSanitizer.
 *
 * Criterion 2.4 cannot run under TSan: its runner maps an "inheritable
 * arena" at a fixed address that TSan's shadow memory already owns ("Could
 * not initialize inheritable arena"). With -I tests/tsan first on the
 * include path, a test file's `#include <criterion/criterion.h>` finds this
 * header instead, and tests/tsan/shim.c runs every Test() in order, in one
 * process, with no fork: exactly what TSan needs to see the threads.
 *
 * Supported: Test(suite, name, .init/.fini/.timeout/.disabled), the
 * cr_assert and cr_expect families used by the store and integration
 * tests, cr_assert_fail, cr_skip_test, cr_log_info/warn. A failed cr_assert
 * or a skip ends the test (longjmp back to the runner, which runs .fini); a
 * failed cr_expect is counted and the test goes on. .timeout is scaled by
 * 10 (TSan is slow) and enforced with alarm().
 */
#ifndef MCD_TSAN_CRITERION_SHIM_H
#define MCD_TSAN_CRITERION_SHIM_H

#include <stdbool.h>
#include <stddef.h>

struct tsan_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    bool disabled;
    const char *description;
    struct tsan_test *next;
};

void tsan_register(struct tsan_test *t);
void tsan_check(bool ok, bool fatal, const char *expr, const char *file, int line, const char *fmt, ...);
void tsan_skip(const char *fmt, ...);
void tsan_log(const char *fmt, ...);

#define Test(s_, n_, ...)                                                                         \
    static void s_##_##n_##_impl(void);                                                           \
    static struct tsan_test s_##_##n_##_desc = {                                                  \
        .suite = #s_, .name = #n_, .fn = s_##_##n_##_impl, __VA_ARGS__};                          \
    __attribute__((constructor)) static void s_##_##n_##_reg(void)                                \
    {                                                                                             \
        tsan_register(&s_##_##n_##_desc);                                                         \
    }                                                                                             \
    static void s_##_##n_##_impl(void)

#define CR_SHIM_(fatal, cond, expr, ...) tsan_check((cond), (fatal), (expr), __FILE__, __LINE__, "" __VA_ARGS__)

#define cr_assert(c, ...) CR_SHIM_(true, !!(c), #c, __VA_ARGS__)
#define cr_expect(c, ...) CR_SHIM_(false, !!(c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) CR_SHIM_(true, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_expect_not(c, ...) CR_SHIM_(false, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_null(p, ...) CR_SHIM_(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_null(p, ...) CR_SHIM_(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) CR_SHIM_(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) CR_SHIM_(false, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define CR_SHIM_CMP_(fatal, a, op, b, ...) CR_SHIM_(fatal, (a)op(b), #a " " #op " " #b, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) CR_SHIM_CMP_(true, a, ==, b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) CR_SHIM_CMP_(false, a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) CR_SHIM_CMP_(true, a, !=, b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) CR_SHIM_CMP_(false, a, !=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) CR_SHIM_CMP_(true, a, <, b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...) CR_SHIM_CMP_(false, a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) CR_SHIM_CMP_(true, a, <=, b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) CR_SHIM_CMP_(false, a, <=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) CR_SHIM_CMP_(true, a, >, b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) CR_SHIM_CMP_(false, a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) CR_SHIM_CMP_(true, a, >=, b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) CR_SHIM_CMP_(false, a, >=, b, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) CR_SHIM_(true, tsan_str_eq((a), (b)), #a " == " #b, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) CR_SHIM_(false, tsan_str_eq((a), (b)), #a " == " #b, __VA_ARGS__)
#define cr_assert_fail(...) CR_SHIM_(true, false, "cr_assert_fail", __VA_ARGS__)
#define cr_skip_test(...) tsan_skip("" __VA_ARGS__)
#define cr_log_info(...) tsan_log(__VA_ARGS__)
#define cr_log_warn(...) tsan_log(__VA_ARGS__)

bool tsan_str_eq(const char *a, const char *b);

#endif /* MCD_TSAN_CRITERION_SHIM_H */

/*
 * fh_test: the few macros the unit tests share. A failed check prints where and what, and the
 * test exits non-zero at the end; TEST_MAIN runs each listed function once.
 */
#ifndef FH_TEST_H
#define FH_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fh_test_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			fh_test_failures++;                                                      \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                        \
	do {                                                                                  \
		long long _a = (long long)(a), _b = (long long)(b);                           \
		if (_a != _b) {                                                               \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
				__LINE__, #a, _a, #b, _b);                                    \
			fh_test_failures++;                                                   \
		}                                                                             \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                         \
	do {                                                                                    \
		const char *_h = (hay);                                                         \
		if (!_h || !strstr(_h, (needle))) {                                             \
			fprintf(stderr, "%s:%d: expected to find \"%s\"\n", __FILE__, __LINE__, \
				(needle));                                                      \
			fh_test_failures++;                                                     \
		}                                                                               \
	} while (0)

#define TEST_MAIN(...)                                                             \
	int main(void)                                                             \
	{                                                                          \
		void (*tests[])(void) = {__VA_ARGS__};                             \
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)      \
			tests[i]();                                                \
		if (fh_test_failures)                                              \
			fprintf(stderr, "%d check(s) failed\n", fh_test_failures); \
		return fh_test_failures ? 1 : 0;                                   \
	}

#endif

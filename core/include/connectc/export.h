/**
 * @file connectc/export.h
 * @brief The macro that marks the public API.
 *
 * The libraries are built with hidden visibility, so only what is declared
 * CONNECTC_API is exported from the shared libraries (nm -D lists
 * connectc_ symbols only). On ELF platforms the same attribute serves the
 * library and its users.
 */
#ifndef CONNECTC_EXPORT_H
#define CONNECTC_EXPORT_H

/**
 * @def CONNECTC_API
 * @brief Marks a function as part of connectc's public, exported API:
 * `__attribute__((visibility("default")))` with GCC and clang, empty with
 * other compilers.
 */
#if defined(__GNUC__) || defined(__clang__)
#define CONNECTC_API __attribute__((visibility("default")))
#else
#define CONNECTC_API
#endif

#endif

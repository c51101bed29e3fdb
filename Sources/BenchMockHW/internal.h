/* Shared between the testbed, the USBTMC device and the GPIO chip emulators. */
#ifndef BENCH_MOCK_HW_INTERNAL_H
#define BENCH_MOCK_HW_INTERNAL_H

#include "BenchMockHW.h"
#include <umockdev.h>

struct bm_testbed {
    UMockdevTestbed *umockdev;
    GPtrArray *usbtmc_devices;  /* bm_usbtmc_device*, freed with the testbed */
    GPtrArray *gpio_chips;      /* bm_gpiochip* */
};

void bm_usbtmc_free(bm_usbtmc_device *device);
void bm_gpiochip_free(bm_gpiochip *chip);

/* snprintf into a caller's error buffer (which may be NULL). */
void bm_set_error(char *error, size_t capacity, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif

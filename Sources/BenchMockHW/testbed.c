/* The umockdev testbed that owns every emulated device (docs/hardware.md §5.2). */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bm_set_error(char *error, size_t capacity, const char *format, ...)
{
    if (error == NULL || capacity == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(error, capacity, format, args);
    va_end(args);
}

bm_testbed *bm_testbed_new(char *error, size_t error_capacity)
{
    const char *preload = getenv("LD_PRELOAD");
    if (preload == NULL || strstr(preload, "umockdev-preload") == NULL) {
        bm_set_error(error, error_capacity,
                     "the umockdev preload is not active (LD_PRELOAD=%s); run the bus tests as "
                     "LD_PRELOAD=libumockdev-preload.so.0 swift test --filter BusTests",
                     preload ? preload : "");
        return NULL;
    }
    UMockdevTestbed *umockdev = umockdev_testbed_new();
    if (umockdev == NULL) {
        bm_set_error(error, error_capacity, "umockdev_testbed_new() failed");
        return NULL;
    }
    /* Only meaningful after the testbed exists: umockdev caches the first answer. */
    if (!umockdev_in_mock_environment()) {
        g_object_unref(umockdev);
        bm_set_error(error, error_capacity,
                     "umockdev testbed created but /sys is not redirected: is "
                     "libumockdev-preload.so.0 really loaded?");
        return NULL;
    }
    bm_testbed *testbed = g_new0(bm_testbed, 1);
    testbed->umockdev = umockdev;
    testbed->usbtmc_devices = g_ptr_array_new();
    testbed->gpio_chips = g_ptr_array_new();
    return testbed;
}

void bm_testbed_free(bm_testbed *testbed)
{
    if (testbed == NULL)
        return;
    /* Removing the testbed stops the ioctl worker, so no callback runs after this. */
    g_clear_object(&testbed->umockdev);
    for (guint i = 0; i < testbed->usbtmc_devices->len; i++)
        bm_usbtmc_free(g_ptr_array_index(testbed->usbtmc_devices, i));
    for (guint i = 0; i < testbed->gpio_chips->len; i++)
        bm_gpiochip_free(g_ptr_array_index(testbed->gpio_chips, i));
    g_ptr_array_free(testbed->usbtmc_devices, TRUE);
    g_ptr_array_free(testbed->gpio_chips, TRUE);
    g_free(testbed);
}

#include "model/cuda_plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef GPT2_CUDA_ABI
int cuda_driver_present(void) {
    void *driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (driver) dlclose(driver);
    return driver != NULL;
}

static void *plugin;
static char plugin_path[PATH_MAX + 64], plugin_error[2 * PATH_MAX + 256];

/* Opens the plugin once; NULL with plugin_error said. */
static void *plugin_open(void) {
    static int tried;
    if (tried) return plugin;
    tried = 1;
    const char *env = getenv("GPT2_CUDA_PLUGIN");
    if (env && *env) {
        snprintf(plugin_path, sizeof plugin_path, "%s", env);
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) {
            snprintf(plugin_error, sizeof plugin_error,
                     "cannot find this program's directory to look for gpt2-cuda.so (set "
                     "GPT2_CUDA_PLUGIN)");
            return NULL;
        }
        exe[n] = 0;
        *strrchr(exe, '/') = 0;
        snprintf(plugin_path, sizeof plugin_path, "%s/gpt2-cuda.so", exe);
        if (access(plugin_path, F_OK))
            snprintf(plugin_path, sizeof plugin_path, "%s/../lib/gpt2/gpt2-cuda.so", exe);
        if (access(plugin_path, F_OK)) {
            snprintf(plugin_error, sizeof plugin_error,
                     "the CUDA plugin is missing: no gpt2-cuda.so in %s or %s/../lib/gpt2 (set "
                     "GPT2_CUDA_PLUGIN)",
                     exe, exe);
            return NULL;
        }
    }
    plugin = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (!plugin) snprintf(plugin_error, sizeof plugin_error, "%s", dlerror());
    return plugin;
}

const void *cuda_plugin_entry(const char *name, char *err, size_t errlen) {
    if (!plugin_open()) {
        snprintf(err, errlen, "%s", plugin_error);
        return NULL;
    }
    const unsigned long *abi = dlsym(plugin, name);
    if (!abi) {
        snprintf(err, errlen, "%s has no %s", plugin_path, name);
        return NULL;
    }
    if (*abi != GPT2_CUDA_ABI) {
        snprintf(err, errlen, "%s is from another build of gpt2 (interface %lx, this program %lx)",
                 plugin_path, *abi, (unsigned long)GPT2_CUDA_ABI);
        return NULL;
    }
    return abi;
}
#else
/* a build without CUDA has no plugin to look for, on any machine */
int cuda_driver_present(void) {
    return 0;
}

const void *cuda_plugin_entry(const char *name, char *err, size_t errlen) {
    (void)name;
    snprintf(err, errlen, "not available in this build (built without CUDA)");
    return NULL;
}
#endif

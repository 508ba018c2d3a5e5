/*
 * config_doc.c - writes docs/configuration.md from the configuration key table, or with
 * --check compares the committed file with what the table generates (a test; exit 1 on drift).
 */
#include "mgmt/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    bool check = argc == 3 && strcmp(argv[1], "--check") == 0;
    if (argc != 2 && !check) {
        fprintf(stderr, "usage: %s [--check] docs/configuration.md\n", argv[0]);
        return 2;
    }
    const char *path = argv[argc - 1];
    if (!check) {
        FILE *f = fopen(path, "w");
        if (f == NULL) {
            perror(path);
            return 1;
        }
        zn_config_write_doc(f);
        return fclose(f) == 0 ? 0 : 1;
    }
    char *generated = NULL, *committed = NULL;
    size_t gen_len = 0;
    FILE *mem = open_memstream(&generated, &gen_len);
    zn_config_write_doc(mem);
    fclose(mem);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    committed = malloc(gen_len + 2);
    size_t n = fread(committed, 1, gen_len + 1, f);
    fclose(f);
    int same = n == gen_len && memcmp(committed, generated, gen_len) == 0;
    if (!same)
        fprintf(stderr,
                "%s is out of date with mgmt/config.c: run `meson compile -C build config-doc`\n",
                path);
    else
        printf("%s matches the key table\n", path);
    free(committed);
    free(generated);
    return same ? 0 : 1;
}

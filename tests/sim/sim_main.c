/*
 * sim_main.c - the simulator's command line: seed sweeps, single-seed replay with a readable
 * trace, the regression seed list, the canary proof and the extended (timed) mode.
 *
 *   zn_sim --sweep SEEDS [--events N] [--base SEED]     sizes cycle 1, 3, 5, 7
 *   zn_sim --seed S --nodes N --events E [--trace]      replay one seed
 *   zn_sim --regress FILE                               every "seed nodes events" line
 *   zn_sim --expect-violation NAME --sweep SEEDS ...    canary build: pass iff a violation is found
 *   ZN_SIM_MINUTES=M zn_sim --sweep 1000000             extended: sweep for M minutes
 *
 * Exit status 0 when every run is clean (or, with --expect-violation, when the canary is caught).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/sim/sim.h"

static const uint32_t sizes[] = {1, 3, 5, 7};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The environment switches that change a run, for the replay line. */
static const char *env_prefix(void)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "%s%s%s", getenv("ZN_SIM_SETTINGS") ? "ZN_SIM_SETTINGS=1 " : "",
             getenv("ZN_SIM_ZINCD_INSTALL") ? "ZN_SIM_ZINCD_INSTALL=1 " : "",
             getenv("ZN_SIM_NO_COMMIT_RULE") ? "ZN_SIM_NO_COMMIT_RULE=1 " : "");
    return buf;
}

struct totals {
    uint64_t seeds;
    uint64_t events;
    uint64_t steps;
    uint64_t sim_ns;
    uint64_t checks;
    uint64_t violations;
    uint64_t committed;
    uint64_t reads;
    uint64_t elections;
    uint64_t proposals_full;
    uint64_t dropped_msgs;
    uint64_t faults[F_COUNT];
    uint64_t hash_checks;
};

static void add(struct totals *t, const struct sim_stats *st)
{
    t->seeds++;
    t->events += st->events;
    t->steps += st->steps;
    t->sim_ns += st->sim_ns;
    t->checks += st->checks;
    t->violations += st->violations;
    t->committed += st->committed;
    t->reads += st->reads;
    t->elections += st->elections;
    t->proposals_full += st->proposals_full;
    t->dropped_msgs += st->dropped_msgs;
    for (int i = 0; i < F_COUNT; i++) {
        t->faults[i] += st->faults[i];
    }
}

/* Run one seed; returns violations. Prints the replay line on failure. */
static uint64_t run_seed(const char *argv0, uint64_t seed, uint32_t nodes, uint64_t events,
                         bool trace, bool quiet, struct totals *t, uint64_t *hash_out)
{
    struct sim_opts o = {.seed = seed,
                         .nodes = nodes,
                         .events = events,
                         .trace = trace,
                         .faults = true,
                         .liveness = true,
                         .clients = true,
                         .role_notes = trace,
                         .out = stdout};
    struct sim *s = sim_new(&o);
    uint64_t v = sim_run(s);
    const struct sim_stats *st = sim_stats(s);
    if (t) {
        add(t, st);
    }
    if (hash_out) {
        *hash_out = st->trace_hash;
    }
    if (v > 0 && !quiet) {
        printf("VIOLATION seed=%llu nodes=%u events=%llu: %s\n", (unsigned long long)seed, nodes,
               (unsigned long long)events, st->first_violation);
        printf("replay: %s%s --seed %llu --nodes %u --events %llu --trace\n", env_prefix(), argv0,
               (unsigned long long)seed, nodes, (unsigned long long)events);
    }
    if (trace) {
        printf("seed %llu: events=%llu sim=%.3fs checks=%llu violations=%llu trace_hash=%016llx\n",
               (unsigned long long)seed, (unsigned long long)st->events, (double)st->sim_ns / 1e9,
               (unsigned long long)st->checks, (unsigned long long)st->violations,
               (unsigned long long)st->trace_hash);
    }
    sim_free(s);
    return v;
}

static void print_totals(const struct totals *t, double wall)
{
    printf("seeds=%llu events=%llu steps=%llu simulated_seconds=%.1f wall_seconds=%.1f\n",
           (unsigned long long)t->seeds, (unsigned long long)t->events,
           (unsigned long long)t->steps, (double)t->sim_ns / 1e9, wall);
    printf("committed_entries=%llu reads=%llu elections=%llu determinism_checks=%llu\n",
           (unsigned long long)t->committed, (unsigned long long)t->reads,
           (unsigned long long)t->elections, (unsigned long long)t->hash_checks);
    printf("backpressure: proposals_refused_full=%llu update_msgs_dropped=%llu\n",
           (unsigned long long)t->proposals_full, (unsigned long long)t->dropped_msgs);
    printf("faults:");
    for (int i = 0; i < F_COUNT; i++) {
        printf(" %s=%llu", sim_fault_name(i), (unsigned long long)t->faults[i]);
    }
    printf("\ninvariant_checks=%llu violations=%llu\n", (unsigned long long)t->checks,
           (unsigned long long)t->violations);
}

static int usage(void)
{
    fprintf(stderr, "usage: zn_sim [--sweep SEEDS] [--base SEED] [--events N] [--seed S --nodes N]"
                    " [--trace] [--regress FILE] [--expect-violation NAME]\n");
    return 2;
}

int main(int argc, char **argv)
{
    uint64_t seeds = 0;
    uint64_t base = 1;
    uint64_t events = 20000;
    int64_t one_seed = -1;
    uint32_t nodes = 3;
    bool trace = false;
    const char *regress = NULL;
    const char *canary = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sweep") == 0 && v) {
            seeds = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--base") == 0 && v) {
            base = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--events") == 0 && v) {
            events = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            one_seed = (int64_t)strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--nodes") == 0 && v) {
            nodes = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--trace") == 0) {
            trace = true;
        } else if (strcmp(a, "--regress") == 0 && v) {
            regress = v;
            i++;
        } else if (strcmp(a, "--expect-violation") == 0 && v) {
            canary = v;
            i++;
        } else {
            return usage();
        }
    }
    if (nodes < 1 || nodes > 7) {
        return usage();
    }
    double t0 = mono_s();
    struct totals t;
    memset(&t, 0, sizeof(t));
    if (one_seed >= 0) {
        uint64_t h = 0;
        uint64_t v = run_seed(argv[0], (uint64_t)one_seed, nodes, events, trace, false, &t, &h);
        print_totals(&t, mono_s() - t0);
        return v ? 1 : 0;
    }
    if (regress) {
        FILE *f = fopen(regress, "r");
        if (f == NULL) {
            perror(regress);
            return 1;
        }
        char line[256];
        uint64_t bad = 0;
        while (fgets(line, sizeof(line), f)) {
            unsigned long long s = 0, e = 0;
            unsigned n = 0;
            if (line[0] == '#' || sscanf(line, "%llu %u %llu", &s, &n, &e) != 3) {
                continue;
            }
            bad += run_seed(argv[0], s, n, e, false, false, &t, NULL) ? 1 : 0;
        }
        fclose(f);
        printf("regression seeds: ");
        print_totals(&t, mono_s() - t0);
        return bad ? 1 : 0;
    }
    if (seeds == 0) {
        return usage();
    }
    const char *minutes_env = getenv("ZN_SIM_MINUTES");
    double deadline = 0;
    if (minutes_env && !canary) {
        deadline = t0 + 60.0 * strtod(minutes_env, NULL);
        seeds = UINT64_MAX / 2;
        printf("extended mode: sweeping for %s minutes\n", minutes_env);
    }
    uint64_t failed = 0;
    for (uint64_t i = 0; i < seeds; i++) {
        uint64_t seed = base + i;
        uint32_t n = sizes[i % 4];
        uint64_t h1 = 0;
        uint64_t v = run_seed(argv[0], seed, n, events, false, canary != NULL, &t, &h1);
        if (canary && v > 0) {
            struct sim_opts o = {.seed = seed,
                                 .nodes = n,
                                 .events = events,
                                 .faults = true,
                                 .liveness = true,
                                 .clients = true};
            struct sim *s = sim_new(&o);
            sim_run(s);
            printf("canary %-22s caught: seed=%llu nodes=%u after %llu seeds: %s\n", canary,
                   (unsigned long long)seed, n, (unsigned long long)(i + 1),
                   sim_stats(s)->first_violation);
            printf("replay: %s%s --seed %llu --nodes %u --events %llu --trace\n", env_prefix(),
                   argv[0], (unsigned long long)seed, n, (unsigned long long)events);
            sim_free(s);
            return 0;
        }
        if (v > 0) {
            failed++;
            if (failed >= 3) {
                break;
            }
        }
        if (!canary && i % 25 == 0) {
            /* determinism: the same seed gives the same trace hash */
            uint64_t h2 = 0;
            run_seed(argv[0], seed, n, events, false, true, NULL, &h2);
            t.hash_checks++;
            if (h1 != h2) {
                printf("NONDETERMINISM seed=%llu nodes=%u: trace hash %016llx then %016llx\n",
                       (unsigned long long)seed, n, (unsigned long long)h1, (unsigned long long)h2);
                failed++;
                t.violations++;
            }
        }
        if (deadline > 0 && mono_s() > deadline) {
            break;
        }
    }
    if (canary) {
        printf("canary %-22s NOT caught within %llu seeds x %llu events\n", canary,
               (unsigned long long)seeds, (unsigned long long)events);
        return 1;
    }
    print_totals(&t, mono_s() - t0);
    return failed ? 1 : 0;
}

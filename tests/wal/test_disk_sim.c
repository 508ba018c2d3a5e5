/*
 * test_disk_sim.c - the simulated disk's crash model is a specification others rely on (the WAL
 * tests, later the Raft simulator): synced data and synced names survive, unsynced ones may not;
 * drop / tear / reorder behave as documented in store/disk.h; faults fire as configured.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_err.h"
#include "wal_test.h"

static struct zn_disk d;

static void setup(void)
{
    cr_assert_eq(zn_disk_sim_create(&d, &wt_alloc, 9, 0), 0);
}

static void teardown(void)
{
    zn_disk_sim_destroy(&d);
}

TestSuite(disk_sim, .init = setup, .fini = teardown);

static int make_file(const char *name, uint8_t fill, size_t len, bool sync_data, bool sync_dir)
{
    int fd;
    cr_assert_eq(zn_disk_open(&d, name, ZN_DISK_CREATE, &fd), 0);
    uint8_t buf[8192];
    memset(buf, fill, sizeof(buf));
    cr_assert_eq(zn_disk_pwrite(&d, fd, buf, len, 0), 0);
    if (sync_data) {
        cr_assert_eq(zn_disk_fdatasync(&d, fd), 0);
    }
    if (sync_dir) {
        cr_assert_eq(zn_disk_fsync_dir(&d), 0);
    }
    return fd;
}

Test(disk_sim, synced_survives_unsynced_dropped)
{
    int fd = make_file("a", 0x11, 4096, true, true);
    uint8_t buf[4096];
    memset(buf, 0x22, sizeof(buf));
    cr_assert_eq(zn_disk_pwrite(&d, fd, buf, sizeof(buf), 0), 0); /* not synced */
    (void)make_file("b", 0x33, 100, true, false);                 /* name not synced */
    zn_disk_sim_crash(&d, ZN_SIM_CRASH_DROP);
    uint64_t size;
    cr_assert_eq(zn_disk_sim_file_size(&d, "b", &size), ZN_ENOENT, "unsynced name is gone");
    cr_assert_eq(zn_disk_sim_peek(&d, "a", 0, buf, sizeof(buf)), 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        cr_assert_eq(buf[i], 0x11, "synced content at %zu", i);
    }
}

Test(disk_sim, tear_keeps_whole_sectors_of_a_prefix)
{
    int fd = make_file("a", 0x00, 8192, true, true);
    int torn = 0, full = 0;
    for (uint64_t seed = 0; seed < 64; seed++) {
        struct zn_disk c;
        cr_assert_eq(zn_disk_sim_clone(&c, &d, seed), 0);
        int cfd;
        cr_assert_eq(zn_disk_open(&c, "a", 0, &cfd), 0);
        uint8_t buf[8192];
        memset(buf, 0xAB, sizeof(buf));
        cr_assert_eq(zn_disk_pwrite(&c, cfd, buf, sizeof(buf), 0), 0);
        zn_disk_sim_crash(&c, ZN_SIM_CRASH_TEAR);
        cr_assert_eq(zn_disk_sim_peek(&c, "a", 0, buf, sizeof(buf)), 0);
        /* new bytes form a prefix, cut at a 512 B boundary */
        size_t cut = 0;
        while (cut < sizeof(buf) && buf[cut] == 0xAB) {
            cut++;
        }
        cr_assert_eq(cut % 512, 0, "cut at %zu", cut);
        for (size_t i = cut; i < sizeof(buf); i++) {
            cr_assert_eq(buf[i], 0, "old content after the cut");
        }
        torn += cut > 0 && cut < sizeof(buf);
        full += cut == sizeof(buf);
        zn_disk_sim_destroy(&c);
    }
    cr_assert_gt(torn, 0, "some crashes tear the write");
    (void)fd;
    (void)full;
}

Test(disk_sim, reorder_keeps_any_subset_of_sectors)
{
    (void)make_file("a", 0x00, 8192, true, true);
    int holes = 0;
    for (uint64_t seed = 0; seed < 64; seed++) {
        struct zn_disk c;
        cr_assert_eq(zn_disk_sim_clone(&c, &d, seed), 0);
        int cfd;
        cr_assert_eq(zn_disk_open(&c, "a", 0, &cfd), 0);
        uint8_t buf[8192];
        memset(buf, 0xCD, sizeof(buf));
        cr_assert_eq(zn_disk_pwrite(&c, cfd, buf, sizeof(buf), 0), 0);
        zn_disk_sim_crash(&c, ZN_SIM_CRASH_REORDER);
        cr_assert_eq(zn_disk_sim_peek(&c, "a", 0, buf, sizeof(buf)), 0);
        bool seen_old = false;
        for (size_t s = 0; s < sizeof(buf); s += 512) {
            for (size_t i = s + 1; i < s + 512; i++) {
                cr_assert_eq(buf[i], buf[s], "sectors are atomic");
            }
            if (buf[s] == 0) {
                seen_old = true;
            } else if (seen_old) {
                holes++; /* a new sector after an old one: reordered */
                break;
            }
        }
        zn_disk_sim_destroy(&c);
    }
    cr_assert_gt(holes, 0, "reordering produces holes");
}

Test(disk_sim, crash_image_at_mutation_and_faults)
{
    int fd = make_file("a", 0x01, 512, true, true); /* mutations: create, write, sync, dirsync */
    struct zn_disk_sim_stats st;
    zn_disk_sim_stats(&d, &st);
    uint64_t m0 = st.mutations;
    zn_disk_sim_crash_at(&d, m0 + 2, ZN_SIM_CRASH_DROP); /* before the 2nd next mutation */
    uint8_t buf[512];
    memset(buf, 0x02, sizeof(buf));
    cr_assert_eq(zn_disk_pwrite(&d, fd, buf, sizeof(buf), 0), 0);
    cr_assert_eq(zn_disk_fdatasync(&d, fd), 0); /* image taken just before this sync */
    struct zn_disk img;
    cr_assert_eq(zn_disk_sim_take_image(&d, &img), 0);
    cr_assert_eq(zn_disk_sim_peek(&img, "a", 0, buf, 1), 0);
    cr_assert_eq(buf[0], 0x01, "the unsynced write was lost in the image");
    zn_disk_sim_destroy(&img);
    cr_assert_eq(zn_disk_sim_peek(&d, "a", 0, buf, 1), 0);
    cr_assert_eq(buf[0], 0x02, "the disk itself went on");
    /* faults: the 2nd fdatasync from now fails with EIO, once */
    zn_disk_sim_fail(&d, ZN_SIM_OP_FDATASYNC, ZN_EIO, 1, 1);
    cr_assert_eq(zn_disk_fdatasync(&d, fd), 0);
    cr_assert_eq(zn_disk_fdatasync(&d, fd), ZN_EIO);
    cr_assert_eq(zn_disk_fdatasync(&d, fd), 0);
    /* capacity: ENOSPC beyond it */
    struct zn_disk small;
    cr_assert_eq(zn_disk_sim_create(&small, &wt_alloc, 1, 10000), 0);
    int sfd;
    cr_assert_eq(zn_disk_open(&small, "x", ZN_DISK_CREATE, &sfd), 0);
    cr_assert_eq(zn_disk_fallocate(&small, sfd, 0, 8000), 0);
    cr_assert_eq(zn_disk_fallocate(&small, sfd, 0, 20000), ZN_ENOSPC);
    zn_disk_close(&small, sfd);
    zn_disk_sim_destroy(&small);
    zn_disk_close(&d, fd);
}

Test(disk_sim, rename_durable_only_after_dir_fsync)
{
    (void)make_file("t.tmp", 0x44, 100, true, true);
    cr_assert_eq(zn_disk_rename(&d, "t.tmp", "t"), 0);
    struct zn_disk c;
    cr_assert_eq(zn_disk_sim_clone(&c, &d, 1), 0);
    zn_disk_sim_crash(&c, ZN_SIM_CRASH_DROP);
    uint64_t size;
    cr_assert_eq(zn_disk_sim_file_size(&c, "t", &size), ZN_ENOENT);
    cr_assert_eq(zn_disk_sim_file_size(&c, "t.tmp", &size), 0);
    zn_disk_sim_destroy(&c);
    cr_assert_eq(zn_disk_fsync_dir(&d), 0);
    zn_disk_sim_crash(&d, ZN_SIM_CRASH_DROP);
    cr_assert_eq(zn_disk_sim_file_size(&d, "t", &size), 0);
    cr_assert_eq(size, 100);
}

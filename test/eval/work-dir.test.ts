// Where `aura eval run` puts its scratch checkouts without --work-dir: a tmpfs with room for three checkouts per
// slot four times over (at least 1 GiB, in the tmpfs and in free memory), named after the --out folder; else
// `work/` in --out. The size is the repository's files at HEAD.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkoutBytes, chooseWorkDir, mountOptionsOf } from "../../src/eval/work-dir.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";

const temp = useTempDir("aura-eval-workdir-");
const GiB = 1024 ** 3;

describe("the eval's work folder", () => {
  it("is the tmpfs when it has room, named after --out; work/ in --out when it has not; --work-dir when given", () => {
    const shm = path.join(temp.dir, "shm");
    mkdirSync(shm);
    const out = path.join(temp.dir, "out");
    const base = { outDir: out, workDir: undefined, concurrency: 2, checkoutBytes: 10 * 1024 * 1024, shm };

    const roomy = chooseWorkDir({ ...base, freeMemory: 64 * GiB });
    const again = chooseWorkDir({ ...base, freeMemory: 64 * GiB });
    const other = chooseWorkDir({ ...base, outDir: path.join(temp.dir, "other"), freeMemory: 64 * GiB });

    expect(roomy).toMatchObject({ kind: "tmpfs", removeAtEnd: true });
    expect(roomy.path).toMatch(new RegExp(`^${shm}/aura-eval-[0-9a-f]{12}$`));
    expect(again.path).toBe(roomy.path);
    expect(other.path).not.toBe(roomy.path);
    // Memory short of 1 GiB, or of 3 checkouts × 2 slots × 4 of a big repository: inside --out.
    expect(chooseWorkDir({ ...base, freeMemory: GiB / 2 })).toEqual({ path: path.join(out, "work"), kind: "out", removeAtEnd: false });
    expect(chooseWorkDir({ ...base, checkoutBytes: 2 * GiB, freeMemory: 40 * GiB })).toMatchObject({ kind: "out" });
    expect(chooseWorkDir({ ...base, shm: path.join(temp.dir, "none"), freeMemory: 64 * GiB })).toMatchObject({ kind: "out" });
    expect(chooseWorkDir({ ...base, workDir: "/somewhere", freeMemory: 64 * GiB })).toEqual({ path: "/somewhere", kind: "given", removeAtEnd: false });
    // A container's memory limit counts the tmpfs's pages: one short of the room means inside --out.
    expect(chooseWorkDir({ ...base, freeMemory: 64 * GiB, memoryLimit: GiB / 2 })).toMatchObject({ kind: "out" });
    // A tmpfs mounted noexec (Docker's /dev/shm) cannot run the checkout's own scripts.
    const mounts = (options: string) => `30 25 0:27 / ${shm} rw,nosuid,nodev,${options} - tmpfs shm rw,size=65536k\n`;
    expect(chooseWorkDir({ ...base, freeMemory: 64 * GiB, mountInfo: mounts("noexec,relatime") })).toMatchObject({ kind: "out" });
    expect(chooseWorkDir({ ...base, freeMemory: 64 * GiB, mountInfo: mounts("relatime") })).toMatchObject({ kind: "tmpfs" });
  });

  it("reads a mount's options from the longest mount point above a folder", () => {
    const info = ["22 1 0:21 / / rw,relatime - ext4 /dev/vda rw,discard", "30 22 0:27 / /dev/shm rw,nosuid,nodev,noexec - tmpfs shm rw,size=65536k"].join("\n");

    expect(mountOptionsOf(info, "/dev/shm")).toContain("noexec");
    expect(mountOptionsOf(info, "/dev/shm/x")).toContain("noexec");
    expect(mountOptionsOf(info, "/dev/shmx")).not.toContain("noexec");
    expect(mountOptionsOf(info, "/home")).toEqual(["rw", "relatime", "rw", "discard"]);
    expect(mountOptionsOf("", "/dev/shm")).toBeUndefined();
  });

  it("counts the repository's files at HEAD", async () => {
    const repo = path.join(temp.dir, "repo");
    sh(temp.dir, "init", "--quiet", "--initial-branch=main", repo);
    mkdirSync(path.join(repo, "src"));
    writeFileSync(path.join(repo, "a.txt"), "x".repeat(1000));
    writeFileSync(path.join(repo, "src", "b with space.js"), "y".repeat(234));
    sh(repo, "add", "-A");
    sh(repo, "commit", "--quiet", "-m", "files");

    expect(await checkoutBytes({ gitDir: path.join(repo, ".git"), protocols: [] })).toBe(1234);
  });
});

// The seccomp assembler and filter, checked by running the encoded program in a classic-BPF interpreter over
// seccomp_data for each architecture (the real kernel check is in sandbox-limits.test.ts).
import { describe, expect, it } from "vitest";
import { ARCHES, assemble, CLONE_NEW_NAMESPACES, deniedSyscalls, encode, SECCOMP_RET, sandboxFilter, type SeccompArch } from "../../src/workspace/seccomp.js";

/** Runs an encoded classic-BPF program on a struct seccomp_data (little-endian) and returns its verdict. */
function run(program: Buffer, data: { nr: number; arch: number; args?: number[] }): number {
  const input = Buffer.alloc(64);
  input.writeUInt32LE(data.nr, 0);
  input.writeUInt32LE(data.arch, 4);
  (data.args ?? []).forEach((arg, index) => input.writeBigUInt64LE(BigInt(arg), 16 + index * 8));
  let accumulator = 0;
  for (let pc = 0; pc < program.length / 8;) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    if (code === 0x20) {
      accumulator = input.readUInt32LE(k);
      pc++;
    } else if (code === 0x06) {
      return k;
    } else {
      const taken = code === 0x15 ? accumulator === k : code === 0x35 ? accumulator >= k : code === 0x45 ? (accumulator & k) !== 0 : undefined;
      if (taken === undefined) throw new Error(`unknown opcode ${code}`);
      pc += 1 + (taken ? jt : jf);
    }
  }
  throw new Error("fell off the end of the program");
}

const EPERM = SECCOMP_RET.ERRNO | 1;
const ENOSYS = SECCOMP_RET.ERRNO | 38;

describe.each<SeccompArch>(["x64", "arm64"])("the sandbox's seccomp filter on %s", (arch) => {
  const table = ARCHES[arch];
  const program = encode(sandboxFilter(arch));

  it("answers EPERM for every denied call, ptrace, mount and unshare among them", () => {
    expect(deniedSyscalls(arch)).toEqual(
      expect.arrayContaining(["ptrace", "mount", "umount2", "unshare", "setns", "bpf", "keyctl", "io_uring_setup", "kexec_load"]),
    );

    for (const [name, nr] of Object.entries(table.denied)) expect([name, run(program, { nr, arch: table.audit })]).toEqual([name, EPERM]);
  });

  it("allows the calls tests make (read, write, openat, execve, plain fork-style clone)", () => {
    const allowed = arch === "x64" ? { read: 0, write: 1, openat: 257, execve: 59, wait4: 61 } : { read: 63, write: 64, openat: 56, execve: 221, wait4: 260 };

    for (const nr of Object.values(allowed)) expect(run(program, { nr, arch: table.audit })).toBe(SECCOMP_RET.ALLOW);
    expect(run(program, { nr: table.clone, arch: table.audit, args: [0x01200011] })).toBe(SECCOMP_RET.ALLOW);
  });

  it("denies clone with any namespace flag and sends clone3 to the clone fallback", () => {
    for (const flag of [0x00020000, 0x10000000, 0x40000000, 0x20000000]) {
      expect(run(program, { nr: table.clone, arch: table.audit, args: [0x01200011 | flag] })).toBe(EPERM);
    }
    expect(CLONE_NEW_NAMESPACES & 0xff).toBe(0);
    expect(run(program, { nr: table.clone3, arch: table.audit })).toBe(ENOSYS);
  });

  it("kills a process calling under another architecture", () => {
    const other = arch === "x64" ? ARCHES.arm64.audit : ARCHES.x64.audit;

    expect(run(program, { nr: 0, arch: other })).toBe(SECCOMP_RET.KILL_PROCESS);
    expect(run(program, { nr: 0, arch: 0x40000003 })).toBe(SECCOMP_RET.KILL_PROCESS);
  });
});

describe("the BPF assembler", () => {
  it("kills x32 calls on x86_64 (their numbers carry bit 30)", () => {
    expect(run(encode(sandboxFilter("x64")), { nr: 0x40000000 + 101, arch: ARCHES.x64.audit })).toBe(SECCOMP_RET.KILL_PROCESS);
  });

  it("encodes code, jt, jf and k little-endian, eight bytes each", () => {
    const bytes = encode(
      assemble([
        { op: "ld", offset: 4 },
        { op: "jeq", k: 7, then: "yes", else: "no" },
        { op: "label", name: "no" },
        { op: "ret", k: 0 },
        { op: "label", name: "yes" },
        { op: "ret", k: 0x7fff0000 },
      ]),
    );

    expect([...bytes]).toEqual([0x20, 0, 0, 0, 4, 0, 0, 0, 0x15, 0, 1, 0, 7, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]);
  });

  it("refuses unknown labels, backward jumps and jumps beyond 255", () => {
    expect(() =>
      assemble([
        { op: "jeq", k: 1, then: "nowhere" },
        { op: "ret", k: 0 },
      ]),
    ).toThrow(/unknown label nowhere/);
    expect(() =>
      assemble([
        { op: "label", name: "top" },
        { op: "jeq", k: 1, then: "top" },
        { op: "ret", k: 0 },
      ]),
    ).toThrow(/outside 0..255/);
    const far = [
      { op: "jeq" as const, k: 1, then: "end" },
      ...Array.from({ length: 300 }, () => ({ op: "ret" as const, k: 0 })),
      { op: "label" as const, name: "end" },
      { op: "ret" as const, k: 0 },
    ];
    expect(() => assemble(far)).toThrow(/outside 0..255/);
  });
});

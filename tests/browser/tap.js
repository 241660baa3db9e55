'use strict';
/*
 * What every browser test file shares: the environment run.sh gives it (HL_BIN, HL_BASE_URL, HL_DAEMON_PID, HL_TMP,
 * HL_CHROMIUM), running a command, and TAP-style checks: `ok N - name` per check, the first failure stops the file, a
 * last line `<label>: N passed, M failed`, and a 50 s watchdog. Exit status 0 only when every check passed.
 */
const { execFile } = require('node:child_process');

const env = {
    BIN: process.env.HL_BIN,
    BASE: process.env.HL_BASE_URL,
    DAEMON_PID: Number(process.env.HL_DAEMON_PID),
    TMP: process.env.HL_TMP,
    CHROMIUM: process.env.HL_CHROMIUM || '/usr/bin/chromium',
};

/* Runs file with args (the test's environment), resolving {stdout, stderr}; a failure carries both in its message. */
function run(file, args, timeoutMs) {
    return new Promise((resolve, reject) => {
        execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20, env: process.env }, (err, stdout, stderr) => {
            if (err) {
                err.message += `\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}`;
                reject(err);
            } else {
                resolve({ stdout, stderr });
            }
        });
    });
}

/* The checks of one test file, reported under `label`: check(name, fn) runs one; main(fn) runs the file's body. */
function tap(label) {
    const started = Date.now();
    let passed = 0;
    async function check(name, fn) {
        try {
            await fn();
        } catch (e) {
            console.log(`not ok ${passed + 1} - ${name}`);
            throw e;
        }
        passed++;
        console.log(`ok ${passed} - ${name}`);
    }
    function main(body) {
        const watchdog = setTimeout(() => {
            console.error(`${label}: FAIL: the test did not finish within 50 s`);
            process.exit(1);
        }, 50000);
        body().then(
            () => {
                clearTimeout(watchdog);
                console.log(`${label}: ${passed} passed, 0 failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
            },
            (e) => {
                console.error(`${label}: FAIL: ${e.stack || e}`);
                console.log(`${label}: ${passed} passed, 1 failed`);
                process.exit(1);
            }
        );
    }
    return { check, main };
}

module.exports = { env, run, tap };

/** MITRE ATT&CK names offline: the generated table matches MITRE's, and ids resolve to names and tactics. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tacticOf, techniqueLabel, techniqueOf } from '../src/summaries/attack.js';

describe('ATT&CK v18.1 offline', () => {
  it('the table is the one scripts/attack-table.mjs derives from third-party/attack', () => {
    const r = spawnSync(process.execPath, ['scripts/attack-table.mjs', '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('names techniques, sub-techniques (with their parent) and tactics, in any case', () => {
    expect(techniqueOf('T1055')).toMatchObject({
      id: 'T1055',
      name: 'Process Injection',
      tactics: ['Defense Evasion', 'Privilege Escalation'],
      retired: false,
      url: 'https://attack.mitre.org/techniques/T1055',
    });
    expect(techniqueOf('t1055.012')).toMatchObject({
      id: 'T1055.012',
      name: 'Process Hollowing',
      parent: 'Process Injection',
    });
    expect(techniqueLabel('T1055.012')).toBe('T1055.012 Process Injection: Process Hollowing');
    expect(techniqueOf('T0822')?.name).toBe('External Remote Services');
    expect(tacticOf('defense-evasion')).toEqual({ id: 'TA0005', name: 'Defense Evasion' });
    expect(tacticOf('TA0011')).toEqual({ id: 'TA0011', name: 'Command and Control' });
  });

  it('knows what it does not know', () => {
    expect(techniqueOf('T9999')).toBeUndefined();
    expect(techniqueOf('1055')).toBeUndefined();
    expect(techniqueLabel('T9999')).toBe('T9999');
  });
});

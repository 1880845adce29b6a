// The demo site with two devices driven over ROS 2: amr-3 (Nav2 under /amr_3) and arm-1
// (a joint trajectory controller under /arm_1). amr-1, amr-2 and the machines stay as they are.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexSite, SiteSchema, type SiteIndex } from '../../../planners/site.ts';
import { loadSiteFolder, type LoadedSite } from '../../../sim/site-folder.ts';

const DEMO = join(fileURLToPath(new URL('../../../', import.meta.url)), 'launch/sites/demo');

export const ARM_JOINTS = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint'];

export function ros2Site(): LoadedSite {
  const demo = loadSiteFolder(DEMO);
  const devices = demo.index.site.devices.map((d) => {
    if (d.id === 'amr-3') return { ...d, ros2: { namespace: '/amr_3' } };
    if (d.id === 'arm-1') return { ...d, ros2: { namespace: '/arm_1', trajectoryAction: 'joint_trajectory_controller/follow_joint_trajectory', joints: ARM_JOINTS } };
    return d;
  });
  const site = SiteSchema.parse({ ...demo.index.site, devices });
  return { ...demo, index: indexSite(site) };
}

export function ros2SiteIndex(): SiteIndex {
  return ros2Site().index;
}

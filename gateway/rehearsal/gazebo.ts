// The Gazebo rehearsal fleet as the gateway configures it (PHYGATE_REHEARSAL_FLEET=gazebo): the
// companion site folder `phygate launch gazebo` writes (PHYGATE_REHEARSAL_SITE), checked against
// the gateway's own site, and the ROS domain the simulation runs in (PHYGATE_REHEARSAL_ROS_DOMAIN),
// which must not be the floor's. Checked at start, so a gateway that would rehearse on the wrong
// hall, or in the floor robots' domain, does not start and says why.
import { resolve } from 'node:path';
import { loadRclnodejs, type RclBinding } from '../../robots/ros2/binding.ts';
import { Ros2UnavailableError } from '../../robots/ros2/errors.ts';
import { loadSiteFolder, SiteLoadError, type LoadedSite } from '../../sim/site-folder.ts';
import { ConfigError, type Config } from '../config.ts';
import { gazeboSiteProblems, type GazeboFleet } from './world.ts';

export interface GazeboFleetOptions {
  /** The environment, for the floor's ROS domain (ROS_DOMAIN_ID). */
  env?: NodeJS.ProcessEnv;
  /** How rclnodejs is loaded; default: the real one (tests pass the stand-in). */
  loadBinding?: () => Promise<RclBinding>;
}

/** The Gazebo fleet the config asks for; undefined for the virtual fleet. Throws ConfigError saying what does not fit. */
export async function openGazeboFleet(config: Config, site: LoadedSite, opts: GazeboFleetOptions = {}): Promise<GazeboFleet | undefined> {
  if (config.PHYGATE_REHEARSAL_FLEET !== 'gazebo') return undefined;
  const dir = config.PHYGATE_REHEARSAL_SITE;
  const domainId = config.PHYGATE_REHEARSAL_ROS_DOMAIN;
  if (dir === undefined || domainId === undefined) {
    throw new ConfigError('PHYGATE_REHEARSAL_FLEET=gazebo needs PHYGATE_REHEARSAL_SITE (the site folder `phygate launch gazebo --out DIR` wrote: DIR/site) and PHYGATE_REHEARSAL_ROS_DOMAIN (the ROS_DOMAIN_ID Gazebo runs in)');
  }
  const env = opts.env ?? process.env;
  const floorDomain = Number(env.ROS_DOMAIN_ID || 0);
  if (config.PHYGATE_ROS2 === 'on' && domainId === floorDomain) {
    throw new ConfigError(`PHYGATE_REHEARSAL_ROS_DOMAIN=${domainId} is the ROS domain of the floor's robots (ROS_DOMAIN_ID${env.ROS_DOMAIN_ID ? `=${env.ROS_DOMAIN_ID}` : ' unset: 0'}): a rehearsal's goals would reach them. Run Gazebo in a domain of its own`);
  }
  let companion: LoadedSite;
  try {
    companion = loadSiteFolder(resolve(dir));
  } catch (err) {
    throw new ConfigError(`PHYGATE_REHEARSAL_SITE: ${err instanceof SiteLoadError ? err.message : (err as Error).message}`);
  }
  const problems = gazeboSiteProblems(site, companion);
  if (problems.length > 0) throw new ConfigError(`PHYGATE_REHEARSAL_SITE '${dir}' does not fit the gateway's site '${site.index.site.id}': ${problems.join('; ')}`);
  const loadBinding = opts.loadBinding ?? (() => loadRclnodejs({ env }));
  try {
    await loadBinding();
  } catch (err) {
    throw err instanceof Ros2UnavailableError ? new ConfigError(`PHYGATE_REHEARSAL_FLEET=gazebo, but ${err.message}`) : err;
  }
  return { site: companion, domainId, ...(opts.loadBinding ? { loadBinding: opts.loadBinding } : {}) };
}

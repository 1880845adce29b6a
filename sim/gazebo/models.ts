// SDF models of the site's robots for Gazebo Harmonic: a differential-drive AMR sized and limited
// by its site.yaml entry, and a three-joint arm driven by a joint trajectory controller. Both are
// plain SDF 1.9 (boxes, cylinders, spheres; nothing fetched), valid under `ign sdf -k`.
import type { Amr, Arm } from '../../planners/site.ts';

// Drive geometry the site does not describe: the same small wheels for every AMR.
export const WHEEL_RADIUS = 0.1;
const WHEEL_WIDTH = 0.05;
const WHEEL_MASS = 1.5;
const CASTER_RADIUS = 0.05;
/** Height of the chassis box (its bottom is just above the casters' tops). */
const CHASSIS_HEIGHT = 0.3;
const CHASSIS_BOTTOM = 0.06;
export const LIDAR_HEIGHT = CHASSIS_BOTTOM + CHASSIS_HEIGHT + 0.05;
export const LIDAR_RANGE_M = 12;

/** Distance between the wheels' centres: the wheels sit inside the footprint's width. */
export function wheelSeparation(amr: Amr): number {
  return round(amr.footprint.width - WHEEL_WIDTH);
}

/**
 * Angular acceleration (rad/s²) a diff drive can give when each wheel's rim may accelerate at
 * the site's `maxAccel`: the wheels accelerating in opposite directions.
 */
export function maxAngularAccel(amr: Amr): number {
  return round((2 * amr.limits.maxAccel) / wheelSeparation(amr));
}

export const round = (v: number) => Math.round(v * 1e6) / 1e6;
const n = (v: number) => String(round(v));
const xyz = (...v: number[]) => v.map(n).join(' ');

function boxInertia(mass: number, x: number, y: number, z: number): string {
  return inertia(mass, (mass * (y * y + z * z)) / 12, (mass * (x * x + z * z)) / 12, (mass * (x * x + y * y)) / 12);
}

function cylinderInertia(mass: number, r: number, length: number): string {
  const side = (mass * (3 * r * r + length * length)) / 12;
  return inertia(mass, side, side, (mass * r * r) / 2);
}

function inertia(mass: number, ixx: number, iyy: number, izz: number): string {
  return `<mass>${n(mass)}</mass><inertia><ixx>${n(ixx)}</ixx><ixy>0</ixy><ixz>0</ixz><iyy>${n(iyy)}</iyy><iyz>0</iyz><izz>${n(izz)}</izz></inertia>`;
}

export interface AmrTopics {
  /** Gazebo transport topics; the bridge maps them to the robot's ROS 2 namespace. */
  cmdVel: string;
  odom: string;
  tf: string;
  groundTruthOdom: string;
  groundTruthTf: string;
  scan: string;
  imu: string;
  jointStates: string;
  battery: string;
}

/** Nominal pack voltage of the simulated battery: the site gives energy (Wh), Gazebo wants charge (Ah). */
export const BATTERY_VOLTAGE = 24;
/** The simulated AMRs start as the virtual fleet's do. */
export const INITIAL_SOC = 0.9;

export function amrTopics(model: string): AmrTopics {
  const at = `/model/${model}`;
  return {
    cmdVel: `${at}/cmd_vel`,
    odom: `${at}/odometry`,
    tf: `${at}/tf`,
    groundTruthOdom: `${at}/ground_truth_odom`,
    groundTruthTf: `${at}/ground_truth_tf`,
    scan: `${at}/scan`,
    imu: `${at}/imu`,
    jointStates: `${at}/joint_states`,
    // LinearBatteryPlugin publishes on /model/<model>/battery/<battery_name>/state.
    battery: `${at}/battery/battery/state`,
  };
}

/**
 * The AMR: a chassis box of the footprint's length and width with two casters, two driven
 * wheels, a 360° 2D lidar on top and an IMU. Its `base_link` frame is on the floor under the
 * footprint's centre, so a pose of the model is a pose of the footprint as the site means it.
 */
export function amrModelSdf(amr: Amr, model: string): string {
  const { length: L, width: W } = amr.footprint;
  const t = amrTopics(model);
  const sep = wheelSeparation(amr);
  const chassisMass = Math.max(amr.massKg - 2 * WHEEL_MASS, 1);
  const chassisZ = CHASSIS_BOTTOM + CHASSIS_HEIGHT / 2;
  const casterX = L / 2 - CASTER_RADIUS - 0.03;
  const wheel = (side: 'left' | 'right', y: number) => `
    <link name="${side}_wheel">
      <pose relative_to="base_link">0 ${n(y)} ${n(WHEEL_RADIUS)} -1.5707963 0 0</pose>
      <inertial>${cylinderInertia(WHEEL_MASS, WHEEL_RADIUS, WHEEL_WIDTH)}</inertial>
      <collision name="collision">
        <geometry><cylinder><radius>${n(WHEEL_RADIUS)}</radius><length>${n(WHEEL_WIDTH)}</length></cylinder></geometry>
        <surface><friction><ode><mu>1</mu><mu2>1</mu2></ode></friction></surface>
      </collision>
      <visual name="${side}_wheel_visual">
        <geometry><cylinder><radius>${n(WHEEL_RADIUS)}</radius><length>${n(WHEEL_WIDTH)}</length></cylinder></geometry>
        <material><ambient>0.1 0.1 0.1 1</ambient><diffuse>0.1 0.1 0.1 1</diffuse></material>
      </visual>
    </link>
    <joint name="${side}_wheel_joint" type="continuous">
      <parent>base_link</parent>
      <child>${side}_wheel</child>
      <axis><xyz expressed_in="base_link">0 1 0</xyz></axis>
    </joint>`;
  const caster = (name: string, x: number) => `
      <collision name="${name}">
        <pose>${xyz(x, 0, CASTER_RADIUS)} 0 0 0</pose>
        <geometry><sphere><radius>${n(CASTER_RADIUS)}</radius></sphere></geometry>
        <!-- a caster rolls every way: no friction -->
        <surface><friction><ode><mu>0</mu><mu2>0</mu2></ode></friction></surface>
      </collision>`;
  return `<?xml version="1.0"?>
<!-- Generated by 'phygate launch gazebo' from site.yaml's device '${amr.id}': do not edit. -->
<sdf version="1.9">
  <model name="${model}">
    <link name="base_link">
      <inertial>
        <pose>0 0 ${n(chassisZ)} 0 0 0</pose>
        ${boxInertia(chassisMass, L, W, CHASSIS_HEIGHT)}
      </inertial>
      <collision name="chassis">
        <pose>0 0 ${n(chassisZ)} 0 0 0</pose>
        <geometry><box><size>${xyz(L, W - 2 * WHEEL_WIDTH - 0.02, CHASSIS_HEIGHT)}</size></box></geometry>
      </collision>${caster('caster_front', casterX)}${caster('caster_rear', -casterX)}
      <visual name="chassis_visual">
        <pose>0 0 ${n(chassisZ)} 0 0 0</pose>
        <geometry><box><size>${xyz(L, W - 2 * WHEEL_WIDTH - 0.02, CHASSIS_HEIGHT)}</size></box></geometry>
        <material><ambient>0.9 0.5 0.1 1</ambient><diffuse>0.9 0.5 0.1 1</diffuse></material>
      </visual>
    </link>
${wheel('left', sep / 2)}
${wheel('right', -sep / 2)}

    <link name="lidar_link">
      <pose relative_to="base_link">0 0 ${n(LIDAR_HEIGHT)} 0 0 0</pose>
      <inertial>${cylinderInertia(0.2, 0.04, 0.05)}</inertial>
      <visual name="lidar_visual">
        <geometry><cylinder><radius>0.04</radius><length>0.05</length></cylinder></geometry>
      </visual>
      <sensor name="lidar" type="gpu_lidar">
        <topic>${t.scan}</topic>
        <gz_frame_id>lidar_link</gz_frame_id>
        <update_rate>10</update_rate>
        <always_on>true</always_on>
        <visualize>false</visualize>
        <lidar>
          <scan>
            <horizontal><samples>360</samples><resolution>1</resolution><min_angle>-3.14159</min_angle><max_angle>3.14159</max_angle></horizontal>
            <vertical><samples>1</samples><resolution>1</resolution><min_angle>0</min_angle><max_angle>0</max_angle></vertical>
          </scan>
          <range><min>0.1</min><max>${LIDAR_RANGE_M}</max><resolution>0.01</resolution></range>
        </lidar>
      </sensor>
    </link>
    <joint name="lidar_joint" type="fixed">
      <parent>base_link</parent>
      <child>lidar_link</child>
    </joint>

    <link name="imu_link">
      <pose relative_to="base_link">0 0 ${n(chassisZ)} 0 0 0</pose>
      <inertial>${boxInertia(0.05, 0.02, 0.02, 0.01)}</inertial>
      <sensor name="imu" type="imu">
        <topic>${t.imu}</topic>
        <gz_frame_id>imu_link</gz_frame_id>
        <update_rate>50</update_rate>
        <always_on>true</always_on>
      </sensor>
    </link>
    <joint name="imu_joint" type="fixed">
      <parent>base_link</parent>
      <child>imu_link</child>
    </joint>

    <!-- cmd_vel in, wheel odometry and odom -> base_link out, within the site's limits -->
    <plugin filename="gz-sim-diff-drive-system" name="gz::sim::systems::DiffDrive">
      <left_joint>left_wheel_joint</left_joint>
      <right_joint>right_wheel_joint</right_joint>
      <wheel_separation>${n(sep)}</wheel_separation>
      <wheel_radius>${n(WHEEL_RADIUS)}</wheel_radius>
      <max_linear_velocity>${n(amr.limits.maxSpeed)}</max_linear_velocity>
      <min_linear_velocity>${n(-amr.limits.maxSpeed)}</min_linear_velocity>
      <max_angular_velocity>${n(amr.limits.maxTurnRate)}</max_angular_velocity>
      <min_angular_velocity>${n(-amr.limits.maxTurnRate)}</min_angular_velocity>
      <max_linear_acceleration>${n(amr.limits.maxAccel)}</max_linear_acceleration>
      <min_linear_acceleration>${n(-amr.limits.maxDecel)}</min_linear_acceleration>
      <max_angular_acceleration>${n(maxAngularAccel(amr))}</max_angular_acceleration>
      <min_angular_acceleration>${n(-maxAngularAccel(amr))}</min_angular_acceleration>
      <topic>${t.cmdVel}</topic>
      <odom_topic>${t.odom}</odom_topic>
      <tf_topic>${t.tf}</tf_topic>
      <frame_id>odom</frame_id>
      <child_frame_id>base_link</child_frame_id>
      <odom_publish_frequency>30</odom_publish_frequency>
    </plugin>
    <!-- The model's true pose in the world, whose frame is the site's map frame: what the
         gateway reads as the robot's position (the ros2 block's odomTopic in the companion site). -->
    <plugin filename="gz-sim-odometry-publisher-system" name="gz::sim::systems::OdometryPublisher">
      <odom_frame>map</odom_frame>
      <robot_base_frame>base_link</robot_base_frame>
      <odom_topic>${t.groundTruthOdom}</odom_topic>
      <tf_topic>${t.groundTruthTf}</tf_topic>
      <odom_publish_frequency>10</odom_publish_frequency>
      <dimensions>2</dimensions>
    </plugin>
    <plugin filename="gz-sim-joint-state-publisher-system" name="gz::sim::systems::JointStatePublisher">
      <topic>${t.jointStates}</topic>
    </plugin>
    <!-- The site's battery (capacityWh at ${BATTERY_VOLTAGE} V), drawing its idle power from the
         robot's first move on: state of charge for the gateway (BatteryState.percentage, 0..1).
         Driving energy is not modelled here; the plan check's energy model is the site's. -->
    <plugin filename="gz-sim-linearbatteryplugin-system" name="gz::sim::systems::LinearBatteryPlugin">
      <battery_name>battery</battery_name>
      <voltage>${BATTERY_VOLTAGE}</voltage>
      <open_circuit_voltage_constant_coef>${BATTERY_VOLTAGE}</open_circuit_voltage_constant_coef>
      <open_circuit_voltage_linear_coef>0</open_circuit_voltage_linear_coef>
      <capacity>${n(amr.battery.capacityWh / BATTERY_VOLTAGE)}</capacity>
      <initial_charge>${n((INITIAL_SOC * amr.battery.capacityWh) / BATTERY_VOLTAGE)}</initial_charge>
      <resistance>0.07</resistance>
      <smooth_current_tau>1.9</smooth_current_tau>
      <power_load>${n(amr.battery.idlePowerW)}</power_load>
    </plugin>
  </model>
</sdf>
`;
}

export const DEFAULT_ARM_JOINTS = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint'] as const;

export interface ArmTopics {
  trajectory: string;
  progress: string;
  jointStates: string;
}

/** Heavy enough that the outstretched arm (a few kg at reachM) cannot tip it. */
const ARM_BASE_MASS = 200;

export function armTopics(model: string): ArmTopics {
  const at = `/model/${model}`;
  // The controller publishes its progress on its topic's name + `_progress`.
  return { trajectory: `${at}/joint_trajectory`, progress: `${at}/joint_trajectory_progress`, jointStates: `${at}/joint_states` };
}

/**
 * A simple arm: a turntable on a heavy base, then an upper arm and a forearm whose
 * lengths share the site's `reachM`. The first joint turns about z, the others about y. Its
 * joints are named by the arm's `ros2.joints` when it has three, else shoulder_pan, shoulder_lift
 * and elbow.
 */
export function armModelSdf(arm: Arm, model: string, joints: readonly string[]): string {
  const t = armTopics(model);
  const upper = round(arm.reachM * 0.55);
  const fore = round(arm.reachM - upper);
  const [pan, lift, elbow] = joints;
  const segment = (name: string, len: number, r: number, mass: number) => `
      <inertial><pose>0 0 ${n(len / 2)} 0 0 0</pose>${cylinderInertia(mass, r, len)}</inertial>
      <collision name="collision"><pose>0 0 ${n(len / 2)} 0 0 0</pose><geometry><cylinder><radius>${n(r)}</radius><length>${n(len)}</length></cylinder></geometry></collision>
      <visual name="${name}_visual"><pose>0 0 ${n(len / 2)} 0 0 0</pose><geometry><cylinder><radius>${n(r)}</radius><length>${n(len)}</length></cylinder></geometry>
        <material><ambient>0.2 0.4 0.8 1</ambient><diffuse>0.2 0.4 0.8 1</diffuse></material></visual>`;
  return `<?xml version="1.0"?>
<!-- Generated by 'phygate launch gazebo' from site.yaml's device '${arm.id}': do not edit. -->
<sdf version="1.9">
  <model name="${model}">
    <!-- A heavy base standing on what is under it, not a joint to the world: robot_state_publisher
         reads this model through sdformat_urdf, which wants the canonical link to be nobody's child. -->
    <link name="base_link">
      <inertial><pose>0 0 0.05 0 0 0</pose>${cylinderInertia(ARM_BASE_MASS, 0.25, 0.1)}</inertial>
      <visual name="base_visual"><pose>0 0 0.05 0 0 0</pose><geometry><cylinder><radius>0.25</radius><length>0.1</length></cylinder></geometry></visual>
      <collision name="collision"><pose>0 0 0.05 0 0 0</pose><geometry><cylinder><radius>0.25</radius><length>0.1</length></cylinder></geometry></collision>
    </link>
    <link name="turntable">
      <pose relative_to="base_link">0 0 0.1 0 0 0</pose>${segment('turntable', 0.15, 0.1, 3)}
    </link>
    <joint name="${pan}" type="revolute">
      <parent>base_link</parent>
      <child>turntable</child>
      <axis><xyz>0 0 1</xyz><limit><lower>-3.14159</lower><upper>3.14159</upper><effort>200</effort><velocity>1.5</velocity></limit></axis>
    </joint>
    <link name="upper_arm">
      <pose relative_to="turntable">0 0 0.15 0 0 0</pose>${segment('upper_arm', upper, 0.05, 4)}
    </link>
    <joint name="${lift}" type="revolute">
      <parent>turntable</parent>
      <child>upper_arm</child>
      <axis><xyz>0 1 0</xyz><limit><lower>-1.8</lower><upper>1.8</upper><effort>300</effort><velocity>1.5</velocity></limit></axis>
    </joint>
    <link name="forearm">
      <pose relative_to="upper_arm">0 0 ${n(upper)} 0 0 0</pose>${segment('forearm', fore, 0.04, 2)}
    </link>
    <joint name="${elbow}" type="revolute">
      <parent>upper_arm</parent>
      <child>forearm</child>
      <axis><xyz>0 1 0</xyz><limit><lower>-2.5</lower><upper>2.5</upper><effort>200</effort><velocity>1.5</velocity></limit></axis>
    </joint>

    <!-- trajectories in (gz.msgs.JointTrajectory), followed with a PID per joint -->
    <plugin filename="gz-sim-joint-trajectory-controller-system" name="gz::sim::systems::JointTrajectoryController">
      <topic>${t.trajectory}</topic>
${joints.map((j) => `      <joint_name>${j}</joint_name>
      <initial_position>0</initial_position>
      <position_p_gain>400</position_p_gain>
      <position_i_gain>20</position_i_gain>
      <position_d_gain>40</position_d_gain>
      <position_i_min>-50</position_i_min>
      <position_i_max>50</position_i_max>
      <position_cmd_min>-300</position_cmd_min>
      <position_cmd_max>300</position_cmd_max>`).join('\n')}
    </plugin>
    <plugin filename="gz-sim-joint-state-publisher-system" name="gz::sim::systems::JointStatePublisher">
      <topic>${t.jointStates}</topic>
    </plugin>
  </model>
</sdf>
`;
}

export function modelConfig(model: string, description: string): string {
  return `<?xml version="1.0"?>
<model>
  <name>${model}</name>
  <version>1.0</version>
  <sdf version="1.9">model.sdf</sdf>
  <description>${description}</description>
</model>
`;
}

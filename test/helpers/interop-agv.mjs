// A VDA 5050 vehicle that is not phygate's: vda-5050-lib's own AgvController driving its
// VirtualAgvAdapter, used as the library ships them (no subclass, no patched method), in a process
// of its own. test/robots/interop-agv.test.ts starts it with
//
//   node interop-agv.mjs <json options>
//
// where the options are { brokerUrl, interfaceName, manufacturer, serialNumber, initialPosition,
// vehicleSpeed, timeLapse }. It prints one line, `ready`, once its client is connected (and its
// first state published); from then on it does only what arrives over MQTT. Plain JavaScript on
// purpose: nothing of phygate is loaded here.
import { AgvController, VirtualAgvAdapter } from 'vda-5050-lib';

const options = JSON.parse(process.argv[2] ?? '{}');

const controller = new AgvController(
  { manufacturer: options.manufacturer, serialNumber: options.serialNumber },
  {
    interfaceName: options.interfaceName ?? 'uagv',
    transport: { brokerUrl: options.brokerUrl },
    vdaVersion: '2.0.0',
  },
  // Its position ten times a second (the default is once): the test stops it between two nodes.
  { agvAdapterType: VirtualAgvAdapter, publishVisualizationInterval: 100 },
  {
    initialPosition: options.initialPosition,
    vehicleSpeed: options.vehicleSpeed,
    timeLapse: options.timeLapse,
  },
);

await controller.start();
process.stdout.write('ready\n');

// The test kills it (SIGKILL), leaving the broker to publish its last will. SIGTERM, for a run by
// hand, stops the controller cleanly (connection OFFLINE).
process.once('SIGTERM', () => {
  controller.stop().finally(() => process.exit(0));
});
